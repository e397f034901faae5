package server

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// connListener wraps the TCP listener: it caps connections in total and
// per client address, keeps accepting through transient errors such as
// running out of file descriptors (fasthttp would return them from Serve,
// ending the process), and closes connections the server gave up on
// gently (see trackedConn.Close).
type connListener struct {
	net.Listener
	log          *slog.Logger
	maxTotal     int
	maxPerClient int
	trusted      []netip.Prefix // proxies: exempt from the per-client cap
	lingerBytes  int64
	lingerTime   time.Duration

	mu        sync.Mutex
	total     int
	perClient map[netip.Addr]int

	open        atomic.Int64
	lingering   atomic.Int64
	refused     *metrics.Counter
	acceptErrs  *metrics.Counter
	lastErrLog  time.Time // accept goroutine only
	lastCapLog  time.Time // accept goroutine only
	refusedBody []byte
}

func newConnListener(ln net.Listener, log *slog.Logger, set *metrics.Set, maxTotal, maxPerClient int, trusted []netip.Prefix, lingerBytes int64, lingerTime time.Duration) *connListener {
	l := &connListener{
		Listener: ln, log: log, maxTotal: maxTotal, maxPerClient: maxPerClient, trusted: trusted,
		lingerBytes: lingerBytes, lingerTime: lingerTime, perClient: map[netip.Addr]int{},
		refused:    set.NewCounter("distilbert_connections_refused_total"),
		acceptErrs: set.NewCounter("distilbert_accept_errors_total"),
	}
	set.NewGauge("distilbert_connections_open", func() float64 { return float64(l.open.Load()) })
	body := `{"error":{"code":"too_many_connections","message":"too many connections; retry later","request_id":"-"}}`
	l.refusedBody = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		itoa(len(body)) + "\r\n\r\n" + body)
	return l
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// Accept returns the next connection within the caps. Errors that say
// the process or system is short of something (EMFILE, ENFILE, ENOBUFS,
// ECONNABORTED: "temporary" to package net) are retried with a backoff
// from 5 ms to 1 s, as net/http does; only a closed listener ends it.
func (l *connListener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			var ne interface{ Temporary() bool }
			if !errors.As(err, &ne) || !ne.Temporary() {
				return nil, err
			}
			l.acceptErrs.Inc()
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			if now := time.Now(); now.Sub(l.lastErrLog) > 10*time.Second {
				l.lastErrLog = now
				l.log.Warn("accept failed; retrying", "error", err.Error(), "retry_ms", delay.Milliseconds(),
					"open_connections", l.open.Load())
			}
			time.Sleep(delay)
			continue
		}
		delay = 0
		addr := remoteAddr(c)
		if !l.admit(addr) {
			l.refused.Inc()
			if now := time.Now(); now.Sub(l.lastCapLog) > 10*time.Second {
				l.lastCapLog = now
				l.log.Warn("connection refused: over the connection cap", "remote", addr.String(),
					"open_connections", l.open.Load(), "max_conns", l.maxTotal, "max_conns_per_client", l.maxPerClient)
			}
			// A fresh socket's send buffer is empty: this write does not
			// block, and the deadline makes sure of it.
			c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
			c.Write(l.refusedBody)
			c.Close()
			continue
		}
		l.open.Add(1)
		return &trackedConn{Conn: c, l: l, addr: addr}, nil
	}
}

func remoteAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

func (l *connListener) isTrusted(a netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// admit counts a new connection from addr, or says it is over a cap.
func (l *connListener) admit(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.maxTotal > 0 && l.total >= l.maxTotal {
		return false
	}
	perClient := addr.IsValid() && l.maxPerClient > 0 && !l.isTrusted(addr)
	if perClient {
		if l.perClient[addr] >= l.maxPerClient {
			return false
		}
		l.perClient[addr]++
	}
	l.total++
	return true
}

func (l *connListener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if n, ok := l.perClient[addr]; ok {
		if n <= 1 {
			delete(l.perClient, addr)
		} else {
			l.perClient[addr] = n - 1
		}
	}
	l.open.Add(-1)
}

// trackedConn is one admitted connection; closing it gives its place back.
type trackedConn struct {
	net.Conn
	l      *connListener
	addr   netip.Addr
	linger atomic.Bool // the server answered without reading the whole request
	closed atomic.Bool
}

// markLinger asks for c (as fasthttp hands it to the handler) to be closed
// gently: see trackedConn.Close.
func markLinger(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if t, ok := c.(*trackedConn); ok {
		t.linger.Store(true)
	}
}

// Close closes the connection. When the server answered before reading
// the whole request (a 413 at the headers), closing at once with unread
// data in the socket makes the kernel send a reset, and a client still
// writing its body (urllib, curl) reports "connection reset" instead of
// the answer. So such a connection is half-closed, the rest of the upload
// is read and discarded, up to a bounded amount for a bounded time, and
// only then closed — what net/http does, with larger bounds.
func (t *trackedConn) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	if !t.linger.Load() {
		err := t.Conn.Close()
		t.l.release(t.addr)
		return err
	}
	t.l.lingering.Add(1)
	go func() {
		defer t.l.lingering.Add(-1)
		if cw, ok := t.Conn.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		t.Conn.SetReadDeadline(time.Now().Add(t.l.lingerTime))
		io.Copy(io.Discard, io.LimitReader(t.Conn, t.l.lingerBytes)) // io.Discard reads through a small pooled buffer
		t.Conn.Close()
		t.l.release(t.addr)
	}()
	return nil
}

func parseProxies(s []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range s {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, errors.New("--trusted-proxies: " + err.Error())
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, errors.New("--trusted-proxies: " + err.Error())
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientAddr is the address a request is from: the peer, or, when the
// peer is a trusted proxy, the right-most address of X-Forwarded-For that
// is not itself a trusted proxy (the left part is the client's to write).
func clientAddr(peer netip.Addr, forwardedFor [][]byte, trusted []netip.Prefix) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if len(trusted) == 0 || !isTrusted(peer) {
		return peer
	}
	addr := peer
	for h := len(forwardedFor) - 1; h >= 0; h-- {
		parts := strings.Split(string(forwardedFor[h]), ",")
		for i := len(parts) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[i]))
			if err != nil {
				return addr // garbage: stop at the last address we could trust
			}
			addr = a.Unmap()
			if !isTrusted(addr) {
				return addr
			}
		}
	}
	return addr
}

// SyscallConn gives the descriptor of the connection underneath, for the
// client-gone check (connClosed).
func (t *trackedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := t.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("not a system connection")
}
