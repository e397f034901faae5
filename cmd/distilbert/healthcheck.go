package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// cmdHealthcheck asks a running service on this host whether it is ready:
// exit 0 on 200, 1 otherwise. It exists for container HEALTHCHECKs, since
// a scratch image has no curl. --addr defaults to DISTILBERT_ADDR, the
// variable serve reads, so one setting serves both.
func cmdHealthcheck(args []string, stdout io.Writer) error {
	fs := newFlagSet("healthcheck")
	addr := fs.String("addr", envOr("DISTILBERT_ADDR", ":8080"), "the service's listen address HOST:PORT (an empty or wildcard host means loopback)")
	path := fs.String("path", "/readyz", "path to GET: /readyz (ready for traffic) or /healthz (alive)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	useTLS := fs.Bool("tls", os.Getenv("DISTILBERT_TLS_CERT") != "", "use HTTPS without verifying the certificate (default: on when DISTILBERT_TLS_CERT is set)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("healthcheck takes no arguments, got %q", rest[0])}
	}
	if !strings.HasPrefix(*path, "/") {
		return usageError{fmt.Errorf("--path must start with /, got %q", *path)}
	}
	target, err := loopbackTarget(*addr)
	if err != nil {
		return usageError{err}
	}
	scheme := "http"
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	if *useTLS {
		scheme = "https"
		// The process checked is the one on this host; its certificate
		// names the public host, not the loopback address dialled.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	url := scheme + "://" + target + *path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", url, strings.TrimSpace(string(body)))
	return nil
}

// loopbackTarget turns a listen address into one to dial: ":8080" and
// "0.0.0.0:8080" listen everywhere, so the check dials 127.0.0.1 ("[::]"
// dials ::1).
func loopbackTarget(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--addr %q: %v", addr, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("--addr %q: needs the service's port", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return fallback
}
