#!/usr/bin/perl
# hello-perl.fcgi: a FastCGI responder in Perl (Debian's libfcgi-perl).
# cgigate starts it with the listening socket on fd 0; FCGI::Request()
# finds it there, and each Accept() serves one request.
use strict;
use warnings;
use FCGI;

my $n = 0;
my $req = FCGI::Request();
while ($req->Accept() >= 0) {
	$n++;
	print "Content-Type: text/plain\r\n\r\n";
	print "hello from perl, pid $$, request $n, path '",
	    ($ENV{PATH_INFO} // ''), "'\n";
}
