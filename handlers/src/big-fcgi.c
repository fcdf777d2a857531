/*
 * big-fcgi.fcgi: streams a large body, QUERY_STRING bytes long (default
 * 163840), in 16 KB writes, with libfcgi's FCGX interface.
 */
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

int
main(void)
{
	static char buf[16384];
	FCGX_Stream *in, *out, *err;
	FCGX_ParamArray envp;
	const char *q;
	long long left;
	int n;

	memset(buf, 'x', sizeof(buf));
	while (FCGX_Accept(&in, &out, &err, &envp) >= 0) {
		q = FCGX_GetParam("QUERY_STRING", envp);
		left = q != NULL && *q != '\0' ? atoll(q) : 163840;
		FCGX_FPrintF(out, "Content-Type: application/octet-stream\r\n"
		    "Content-Length: %lld\r\n\r\n", left);
		while (left > 0) {
			n = left > (long long)sizeof(buf) ? (int)sizeof(buf) :
			    (int)left;
			if (FCGX_PutStr(buf, n, out) != n)
				break;
			left -= n;
		}
	}
	return 0;
}
