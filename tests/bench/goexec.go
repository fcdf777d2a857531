// goexec.go: a Go net/http server that runs a CGI program per request with
// os/exec, as a benchmark peer.  GET /NAME runs DIR/NAME.cgi with no
// arguments, sends the header lines it prints (up to the blank line) as
// response headers and streams the rest as the body.
//
//	goexec DIR ADDR:PORT
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goexec DIR ADDR:PORT")
		os.Exit(2)
	}
	dir := os.Args[1]
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		name := filepath.Base(r.URL.Path)
		cmd := exec.Command(filepath.Join(dir, name+".cgi"))
		cmd.Env = []string{"GATEWAY_INTERFACE=CGI/1.1",
			"REQUEST_METHOD=" + r.Method, "QUERY_STRING=" + r.URL.RawQuery}
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		br := bufio.NewReaderSize(out, 16384)
		status := http.StatusOK
		for {
			line, err := br.ReadString('\n')
			line = strings.TrimRight(line, "\r\n")
			if err != nil || line == "" {
				break
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			if strings.EqualFold(k, "Status") {
				if n, e := strconv.Atoi(strings.Fields(v + " 0")[0]); e == nil && n >= 100 {
					status = n
				}
				continue
			}
			w.Header().Add(k, v)
		}
		w.WriteHeader(status)
		io.Copy(w, br)
		cmd.Wait()
	})
	log.Fatal(http.ListenAndServe(os.Args[2], nil))
}
