/*
 * hello-fcgi.fcgi: the smallest FastCGI responder, an unmodified libfcgi
 * accept loop.  cgigate starts it with a listening socket on fd 0.
 */
#include <fcgi_stdio.h>

int
main(void)
{
	while (FCGI_Accept() >= 0)
		printf("Content-Type: text/plain\r\n\r\nhi\n");
	return 0;
}
