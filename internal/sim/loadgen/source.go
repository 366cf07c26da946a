package loadgen

import "github.com/cspwatch/cspwatch/internal/sim/fleet"

// FromFleet is the Source of a synthetic fleet's messages, each with the
// server's message it answers when the fleet makes them
// (fleet.Config.Commands). Like the fleet, it is not safe for concurrent
// use; Run serialises its calls.
func FromFleet(f *fleet.Fleet) Source {
	return func() Message {
		m := f.Next()
		out := Message{DeviceID: m.DeviceID, Body: m.Body, GenericAlert: m.GenericAlert, Events: m.Events}
		if s := m.Server; s != nil {
			out.Command, out.CommandLate = s.Body, s.Late
		}
		return out
	}
}

// Pool holds messages made in advance, so that making them costs the load
// generator no CPU while it measures; the messages stay distinct.
type Pool struct {
	next Source
	msgs []Message
	i    int
	// Exhausted counts messages made live because the pool ran out.
	Exhausted int
}

// NewPool returns an empty pool drawing from next.
func NewPool(next Source) *Pool { return &Pool{next: next} }

// Fill replaces what is left in the pool with new messages from next until
// they fill maxBytes or number maxMsgs.
func (p *Pool) Fill(maxBytes int64, maxMsgs int) {
	p.msgs, p.i = p.msgs[:0], 0
	var size int64
	for size < maxBytes && len(p.msgs) < maxMsgs {
		m := p.next()
		p.msgs = append(p.msgs, m)
		size += int64(len(m.Body) + len(m.Command))
	}
}

// Next serves the pool's messages, then messages made live.
func (p *Pool) Next() Message {
	if p.i < len(p.msgs) {
		m := p.msgs[p.i]
		p.msgs[p.i] = Message{} // let the collector have it once sent
		p.i++
		return m
	}
	p.Exhausted++
	return p.next()
}
