/* hello-c.cgi: the smallest useful CGI program, in C. */
#include <stdio.h>

int
main(void)
{
	fputs("Content-Type: text/plain\r\n\r\nhi\n", stdout);
	return 0;
}
