/*
 * count-fcgi.fcgi: count.cgi as a FastCGI responder (libfcgi's FCGX
 * interface): reads each request's body to its end, then answers with
 * its length.
 */
#include <fcgiapp.h>

int
main(void)
{
	static char buf[65536];
	FCGX_Stream *in, *out, *err;
	FCGX_ParamArray envp;
	long long total;
	int n;

	while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
		total = 0;
		while ((n = FCGX_GetStr(buf, (int)sizeof(buf), in)) > 0)
			total += n;
		FCGX_FPrintF(out, "Content-Type: text/plain\r\n\r\n%lld\n",
		    total);
	}
	return 0;
}
