package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// A socket belongs to the network namespace of the thread that created it, so the
// demo opens listeners and connections inside the pods' namespaces (ns.WithNetNSPath
// locks the goroutine to its thread while it switches) and uses them from anywhere.

// listen starts a TCP server on port inside the pod that answers every connection
// with its name, so a probe proves it reached the right pod.
func listen(ctx context.Context, p *pod, port uint16) error {
	var ln net.Listener
	err := ns.WithNetNSPath("/var/run/netns/"+p.ns, func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		return fmt.Errorf("listening on %s:%d: %w", p.name, port, err)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
				_, _ = io.WriteString(conn, p.name+"\n")
			}()
		}
	}()
	return nil
}

// probeTCP connects from src to dst:port and reads the greeting. A connection the
// policy drops times out; the result is true only when dst itself answered.
func probeTCP(src, dst *pod, port uint16, timeout time.Duration) bool {
	var conn net.Conn
	err := ns.WithNetNSPath("/var/run/netns/"+src.ns, func(ns.NetNS) error {
		var err error
		d := net.Dialer{Timeout: timeout}
		conn, err = d.Dial("tcp", netip.AddrPortFrom(dst.ip, port).String())
		return err
	})
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, 64)
	n, _ := io.ReadAtLeast(conn, buf, len(dst.name)+1)
	return string(buf[:n]) == dst.name+"\n"
}

// probe is one connection attempt of the matrix.
type probe struct {
	src, dst *pod
	port     uint16
}

// probeAll runs the probes in parallel and returns their results in order.
func probeAll(probes []probe, timeout time.Duration) []bool {
	out := make([]bool, len(probes))
	var wg sync.WaitGroup
	for i, pr := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = probeTCP(pr.src, pr.dst, pr.port, timeout)
		}()
	}
	wg.Wait()
	return out
}

// listenOutside starts a server on the LAN host that answers with the source
// address it sees, to show natOutgoing.
func listenOutside(ctx context.Context, port uint16) error {
	var ln net.Listener
	err := ns.WithNetNSPath("/var/run/netns/"+nsPrefix+"lan", func(ns.NetNS) error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(outsideAddr, port).String())
		return err
	})
	if err != nil {
		return fmt.Errorf("listening outside the cluster: %w", err)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
			_, _ = io.WriteString(conn, host+"\n")
			conn.Close()
		}
	}()
	return nil
}

// seenFromOutside connects from the pod to the outside host and returns the source
// address the host saw.
func seenFromOutside(src *pod, port uint16) (string, error) {
	var conn net.Conn
	err := ns.WithNetNSPath("/var/run/netns/"+src.ns, func(ns.NetNS) error {
		var err error
		conn, err = (&net.Dialer{Timeout: 2 * time.Second}).Dial("tcp", netip.AddrPortFrom(outsideAddr, port).String())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("connecting from %s to %s: %w", src.name, outsideAddr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, _ := io.ReadAtLeast(conn, buf, 2)
	return strings.TrimSpace(string(buf[:n])), nil
}
