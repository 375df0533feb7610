package bridgetest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// PostOversized sends a POST of size bytes of 'x' to http://addr+target
// over a raw TCP connection, with Content-Length or chunked, and returns
// the status of the answer. It reads the answer while the body is still
// being written: a server that rejects the body early answers and closes
// without reading the rest, and a client that reads only after writing (as
// net/http's does) may see the broken pipe instead of the answer. The
// body costs the client a single 32 KiB buffer, so in-process memory
// measurements see the server's cost only. header lines are added as
// given ("Content-Type: application/json").
func PostOversized(addr, target string, size int64, chunked bool, header ...string) (int, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	go func() {
		var head strings.Builder
		fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\n", target, addr)
		for _, h := range header {
			head.WriteString(h + "\r\n")
		}
		if chunked {
			head.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		} else {
			fmt.Fprintf(&head, "Content-Length: %d\r\n\r\n", size)
		}
		if _, err := io.WriteString(conn, head.String()); err != nil {
			return
		}
		chunk := []byte(strings.Repeat("x", 32<<10))
		if chunked { // one framed 32 KiB chunk, written again and again
			chunk = append(append(fmt.Appendf(nil, "%x\r\n", len(chunk)), chunk...), "\r\n"...)
		}
		for sent := int64(0); sent < size; sent += 32 << 10 {
			if _, err := conn.Write(chunk); err != nil {
				return // the server closed: expected once it has answered
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, fmt.Errorf("no answer to a %d-byte body (chunked %v): %w", size, chunked, err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
