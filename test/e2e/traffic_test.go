package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// stream is a long-lived TCP connection from one pod to another's echo server that
// carries a numbered 16-byte record every interval and checks each one comes back in
// order. It stops on the first error.
type stream struct {
	conn     net.Conn
	interval time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup
	// written is closed when the writer has stopped, so finish compares the echoes
	// with a final count (not with a record still being written).
	written chan struct{}

	mu       sync.Mutex
	sent     uint64
	received uint64
	maxGap   time.Duration // longest wait between two echoed records
	err      error
}

func startStream(src, dst *pod, port uint16, interval time.Duration) (*stream, error) {
	conn, err := src.ns.DialTCP(netip.AddrPortFrom(dst.ip, port), 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("opening the stream %s→%s:%d: %w", src.key(), dst.key(), port, err)
	}
	s := &stream{conn: conn, interval: interval, stop: make(chan struct{}), written: make(chan struct{})}
	s.wg.Add(2)
	go s.write()
	go s.read()
	return s, nil
}

func (s *stream) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *stream) write() {
	defer s.wg.Done()
	defer close(s.written)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	rec := make([]byte, 16)
	for seq := uint64(1); ; seq++ {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		binary.BigEndian.PutUint64(rec, seq)
		binary.BigEndian.PutUint64(rec[8:], ^seq)
		_ = s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := s.conn.Write(rec); err != nil {
			select {
			case <-s.stop:
				return // closed by finish
			default:
			}
			s.fail(fmt.Errorf("writing record %d: %w", seq, err))
			return
		}
		s.mu.Lock()
		s.sent = seq
		s.mu.Unlock()
	}
}

func (s *stream) read() {
	defer s.wg.Done()
	rec := make([]byte, 16)
	last := time.Now()
	for want := uint64(1); ; want++ {
		// Long enough for TCP's retransmissions to bridge an outage: an outage shows
		// as a gap, a broken connection as an error.
		_ = s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.ReadFull(s.conn, rec); err != nil {
			select {
			case <-s.stop:
				return // closed by finish
			default:
			}
			s.fail(fmt.Errorf("reading echo of record %d: %w", want, err))
			return
		}
		seq, check := binary.BigEndian.Uint64(rec), binary.BigEndian.Uint64(rec[8:])
		if seq != want || check != ^seq {
			s.fail(fmt.Errorf("echo out of order or corrupt: got record %d, want %d", seq, want))
			return
		}
		now := time.Now()
		s.mu.Lock()
		s.received = seq
		if gap := now.Sub(last); gap > s.maxGap {
			s.maxGap = gap
		}
		s.mu.Unlock()
		last = now
	}
}

// finish stops writing, waits up to 5 s for every record's echo, closes the
// connection and reports the counts and the first error.
func (s *stream) finish() (sent, received uint64, maxGap time.Duration, err error) {
	close(s.stop)
	select {
	case <-s.written:
	case <-time.After(6 * time.Second): // a write blocks at most its 5 s deadline
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		done := s.received >= s.sent || s.err != nil
		s.mu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.conn.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.received, s.maxGap, s.err
}

// pinger sends an ICMP echo request every interval from a pod to an address and
// counts the replies by sequence number.
type pinger struct {
	conn     net.PacketConn
	dst      netip.Addr
	id       uint16
	interval time.Duration
	stop     chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex
	sent    int
	replies map[uint16]bool
	err     error
}

func startPinger(src *pod, dst netip.Addr, interval time.Duration) (*pinger, error) {
	p := &pinger{dst: dst, id: uint16(time.Now().UnixNano()>>10) | 1, interval: interval,
		stop: make(chan struct{}), replies: map[uint16]bool{}}
	if err := src.ns.Do(func() error {
		var err error
		p.conn, err = net.ListenPacket("ip4:icmp", "")
		return err
	}); err != nil {
		return nil, fmt.Errorf("ICMP socket in %s: %w", src.key(), err)
	}
	p.wg.Add(2)
	go p.send()
	go p.receive()
	return p, nil
}

func (p *pinger) send() {
	defer p.wg.Done()
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for seq := uint16(1); ; seq++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		msg := []byte{8, 0, 0, 0, byte(p.id >> 8), byte(p.id), byte(seq >> 8), byte(seq), 'p', 'a', 'l', 'i'}
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		if _, err := p.conn.WriteTo(msg, &net.IPAddr{IP: p.dst.AsSlice()}); err != nil {
			p.mu.Lock()
			if p.err == nil {
				p.err = fmt.Errorf("sending echo %d: %w", seq, err)
			}
			p.mu.Unlock()
		}
		p.mu.Lock()
		p.sent = int(seq)
		p.mu.Unlock()
		if seq == 0xffff {
			return
		}
	}
}

func (p *pinger) receive() {
	defer p.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFrom(buf)
		if err != nil {
			return // closed by finish
		}
		b := buf[:n]
		if len(b) < 8 || b[0] != 0 || binary.BigEndian.Uint16(b[4:]) != p.id {
			continue
		}
		if ip, ok := from.(*net.IPAddr); !ok || !ip.IP.Equal(p.dst.AsSlice()) {
			continue
		}
		p.mu.Lock()
		p.replies[binary.BigEndian.Uint16(b[6:])] = true
		p.mu.Unlock()
	}
}

// finish stops sending, gives late replies a second, and returns the sequence
// numbers that got no reply.
func (p *pinger) finish() (sent int, lost []int, err error) {
	close(p.stop)
	time.Sleep(time.Second)
	p.conn.Close()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for seq := 1; seq <= p.sent; seq++ {
		if !p.replies[uint16(seq)] {
			lost = append(lost, seq)
		}
	}
	return p.sent, lost, p.err
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
