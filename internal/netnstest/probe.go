package netnstest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Ping sends one ICMP (or ICMPv6) echo request from inside the namespace and waits up
// to timeout for the matching reply. It needs no ping binary.
func (n *NS) Ping(dst netip.Addr, timeout time.Duration) error {
	network, echoType, replyType := "ip4:icmp", byte(8), byte(0)
	if dst.Is6() {
		network, echoType, replyType = "ip6:ipv6-icmp", 128, 129
	}
	var conn net.PacketConn
	if err := n.Do(func() error {
		c, err := net.ListenPacket(network, "")
		conn = c
		return err
	}); err != nil {
		return fmt.Errorf("opening ICMP socket in %s: %w", n.Name, err)
	}
	defer conn.Close()
	id := uint16(time.Now().UnixNano())
	msg := []byte{echoType, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'p', 'a', 'l'}
	if dst.Is4() { // the kernel fills in the ICMPv6 checksum itself
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
	}
	if _, err := conn.WriteTo(msg, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return fmt.Errorf("sending echo to %s: %w", dst, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	for {
		nr, from, err := conn.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("no echo reply from %s: %w", dst, err)
		}
		b := buf[:nr]
		if len(b) >= 8 && b[0] == replyType && binary.BigEndian.Uint16(b[4:]) == id &&
			from.(*net.IPAddr).IP.Equal(dst.AsSlice()) {
			return nil
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Listener is a TCP and UDP echo server running in a namespace: TCP connections get
// their first line echoed back, UDP datagrams are echoed to the sender.
type Listener struct {
	tcp  net.Listener
	udp  net.PacketConn
	wg   sync.WaitGroup
	once sync.Once
}

// Listen starts a TCP and a UDP echo server on port (all addresses, both families)
// inside the namespace. It is closed when the test ends.
func (n *NS) Listen(t testing.TB, port uint16) *Listener {
	t.Helper()
	l := &Listener{}
	addr := ":" + strconv.Itoa(int(port))
	if err := n.Do(func() error {
		var err error
		if l.tcp, err = net.Listen("tcp", addr); err != nil {
			return err
		}
		l.udp, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, n.Name, err)
	}
	l.wg.Add(2)
	go l.serveTCP()
	go l.serveUDP()
	t.Cleanup(l.Close)
	return l
}

func (l *Listener) serveTCP() {
	defer l.wg.Done()
	for {
		c, err := l.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}

func (l *Listener) serveUDP() {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	for {
		nr, from, err := l.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = l.udp.WriteTo(buf[:nr], from)
	}
}

// Close stops both servers.
func (l *Listener) Close() {
	l.once.Do(func() {
		_ = l.tcp.Close()
		_ = l.udp.Close()
		l.wg.Wait()
	})
}

// DialTCP opens a TCP connection from inside the namespace. The caller closes it.
func (n *NS) DialTCP(dst netip.AddrPort, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = net.DialTimeout("tcp", dst.String(), timeout)
		return err
	})
	return c, err
}

// ProbeTCP connects to dst from inside the namespace, sends a line and expects it
// echoed back within timeout. A nil error means the connection was allowed both ways.
func (n *NS) ProbeTCP(dst netip.AddrPort, timeout time.Duration) error {
	c, err := n.DialTCP(dst, timeout)
	if err != nil {
		return fmt.Errorf("tcp connect %s: %w", dst, err)
	}
	defer c.Close()
	return Echo(c, timeout)
}

// Echo writes a probe line on c and waits for the same bytes back.
func Echo(c net.Conn, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	want := []byte("palisade-probe\n")
	if _, err := c.Write(want); err != nil {
		return fmt.Errorf("writing to %s: %w", c.RemoteAddr(), err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("reading echo from %s: %w", c.RemoteAddr(), err)
	}
	if !bytes.Equal(got, want) {
		return errors.New("echo mismatch")
	}
	return nil
}

// ProbeUDP sends a datagram to dst from inside the namespace and waits for the echo.
func (n *NS) ProbeUDP(dst netip.AddrPort, timeout time.Duration) error {
	var c net.Conn
	if err := n.Do(func() error {
		var err error
		c, err = net.Dial("udp", dst.String())
		return err
	}); err != nil {
		return fmt.Errorf("udp socket to %s: %w", dst, err)
	}
	defer c.Close()
	return Echo(c, timeout)
}
