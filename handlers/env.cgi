#!/bin/sh
# Prints the environment the handler was given, one variable a line.
printf 'Content-Type: text/plain\r\n\r\n'
env | LC_ALL=C sort
