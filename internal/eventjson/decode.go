package eventjson

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/cspwatch/cspwatch/internal/event"
)

// Decode parses one contract-v1 JSON event and checks it: malformed JSON, a
// schema_version other than 1, or a missing event_id, tenant, device_id,
// kind or received_at is an error. Every error Decode returns wraps
// ErrInvalid and is permanent. It accepts exactly what encoding/json accepts
// into an Event, with the same result (see Decoder); it allocates one string
// for the fields that are not interned and one Product when the event has
// one.
func Decode(data []byte) (event.Event, error) {
	var e event.Event
	err := DecodeInto(data, &e)
	return e, err
}

// DecodeInto is Decode into *e, which it overwrites: on error *e is the zero
// Event. It borrows a Decoder from a pool; a goroutine decoding many events
// is better served by a Decoder of its own.
func DecodeInto(data []byte, e *event.Event) error {
	d := decoderPool.Get().(*Decoder)
	err := d.DecodeInto(data, e)
	decoderPool.Put(d)
	return err
}

// ErrInvalid marks an event that decodes but breaks the contract; such a
// message will never become valid, so consumers dead-letter it.
var ErrInvalid = errors.New("invalid event")

var decoderPool = sync.Pool{New: func() any { return new(Decoder) }}

// Decoder decodes contract-v1 events without reflection. It accepts any JSON
// object encoding/json would decode into an Event and yields the same Event:
// fields in any order, keys matched exactly or else case-insensitively as
// encoding/json does, unknown fields skipped (but validated), null leaving a
// field as it is, the last of repeated keys winning, string escapes
// including surrogate pairs, invalid UTF-8 inside strings replaced by U+FFFD.
// Everything encoding/json rejects (syntax, a value of the wrong type, an
// integer with a fraction or out of range, nesting deeper than 10,000) it
// rejects too, though with its own error text. Its fields are those of
// event.Fields, located in Event once, at init (see fields.go).
//
// Cost: one pass over the input, one string allocation per event shared by
// the string fields that are not interned (event_id, device_id, text,
// cmd_id_raw, those of msi_job and office_config, ...), one Product when
// the event carries one. A command event's msi_job or office_config costs
// its struct and a slice and a string per element of each array set: they
// are few, one per install command. Values of the small repeated sets
// (kind, scope, csp, node, outcome, code space and name, category, mark,
// alert type, tenant, target, product name and version, ...) are interned
// in a table of at most internMax entries per Decoder, so a repeated value
// costs no allocation and no memory of its own.
//
// A Decoder is not safe for concurrent use; the zero value is ready.
type Decoder struct {
	// arena collects the bytes of the non-interned string fields of the
	// event being decoded; one string conversion at the end backs them all.
	arena []byte
	// tmp holds an unescaped key or value.
	tmp []byte
	// slots say where each string field's value lies in arena, by
	// field.slot; a slot is set when its gen is the Decoder's, so that a
	// new event starts with none set without clearing them.
	slots  [maxSlots]slot
	gen    uint32
	anySet bool
	intern map[string]string
	// last is each interned field's previous value: consecutive events
	// mostly repeat tenant, kind, scope, csp, node and the like, and a
	// comparison is cheaper than a map lookup.
	last [maxSlots]string
}

// slot records where a string field's value lies in arena.
type slot struct {
	off, end int32
	gen      uint32
}

// DecodeInto decodes data into *e, which it overwrites, and checks it as
// Decode does; on error *e is the zero Event.
func (d *Decoder) DecodeInto(data []byte, e *event.Event) error {
	*e = event.Event{}
	if err := d.decode(data, e); err != nil {
		*e = event.Event{}
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := validate(e); err != nil {
		*e = event.Event{}
		return err
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return nil
}

// validate applies the contract's checks to a decoded event.
func validate(e *event.Event) error {
	switch {
	case e.SchemaVersion != event.SchemaVersion:
		return fmt.Errorf("%w: schema_version %d, want %d", ErrInvalid, e.SchemaVersion, event.SchemaVersion)
	case e.EventID == "":
		return fmt.Errorf("%w: no event_id", ErrInvalid)
	case e.Tenant == "":
		return fmt.Errorf("%w: no tenant", ErrInvalid)
	case e.DeviceID == "":
		return fmt.Errorf("%w: no device_id", ErrInvalid)
	case e.Kind != event.KindAlert && e.Kind != event.KindResult && e.Kind != event.KindStatus && e.Kind != event.KindInventory &&
		e.Kind != event.KindCommand:
		return fmt.Errorf("%w: kind %q", ErrInvalid, e.Kind)
	case e.ReceivedAt.IsZero():
		return fmt.Errorf("%w: no received_at", ErrInvalid)
	}
	return nil
}

func (d *Decoder) decode(data []byte, e *event.Event) error {
	d.arena = d.arena[:0]
	if d.gen++; d.gen == 0 {
		// Wrapped: a slot of 2^32 events ago would look set.
		d.slots = [maxSlots]slot{}
		d.gen = 1
	}
	d.anySet = false
	if d.intern == nil {
		d.resetIntern()
	}
	i := skipWS(data, 0)
	if i >= len(data) {
		return errEOF
	}
	var err error
	switch data[i] {
	case '{':
		if i, err = d.object(data, i, 1, unsafe.Pointer(e), &objects[0]); err != nil {
			return err
		}
	case 'n':
		// null decodes to nothing; validation then rejects the empty event.
		if i, err = literal(data, i, "null"); err != nil {
			return err
		}
	default:
		if _, err := skipValue(data, i, 0); err != nil {
			return err
		}
		return &typeError{want: "an object", off: i}
	}
	if i = skipWS(data, i); i < len(data) {
		return errAt(data, i, "after top-level value")
	}
	if d.anySet {
		d.resolve(e)
	}
	return nil
}

// resolve sets the string fields whose values went to the arena, from one
// string holding them all.
func (d *Decoder) resolve(e *event.Event) {
	s := string(d.arena)
	var bases [maxObjects]unsafe.Pointer // of each object; nil for one the event lacks
	bases[0] = unsafe.Pointer(e)
	for k := 1; k < len(objects); k++ {
		bases[k] = *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(e), objects[k].off))
	}
	for i, sf := range strFields {
		// A set slot's object is there: a null object unsets its slots.
		if sl := d.slots[i]; sl.gen == d.gen {
			*(*string)(unsafe.Add(bases[sf.obj], sf.off)) = s[sl.off:sl.end]
		}
	}
}

// object decodes the object at data[i] (a '{') into the struct at base, the
// event or one of its nested objects, which o describes, and returns the
// offset after it. depth is the object's nesting depth, 1 for the event.
func (d *Decoder) object(data []byte, i, depth int, base unsafe.Pointer, o *object) (int, error) {
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, nil
	}
	hint := 0
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, errAt(data, i, "looking for beginning of object key string")
		}
		end, esc, err := scanString(data, i)
		if err != nil {
			return 0, err
		}
		key := data[i+1 : end-1]
		if esc {
			d.tmp = unquote(d.tmp[:0], key)
			key = d.tmp
		}
		k := o.find(key, hint)
		i = skipWS(data, end)
		if i >= len(data) || data[i] != ':' {
			return 0, errAt(data, i, "after object key")
		}
		if i = skipWS(data, i+1); i >= len(data) {
			return 0, errEOF
		}
		if k < 0 {
			i, err = skipValue(data, i, depth)
		} else {
			hint = k + 1
			i, err = d.value(data, i, depth, base, &o.fields[k])
		}
		if err != nil {
			return 0, err
		}
		i = skipWS(data, i)
		if i >= len(data) {
			return 0, errEOF
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errAt(data, i, "after object key:value pair")
		}
	}
}

// value decodes the value at data[i] into field f of the struct at base and
// returns the offset after it.
func (d *Decoder) value(data []byte, i, depth int, base unsafe.Pointer, f *field) (int, error) {
	at := unsafe.Add(base, f.off)
	c := data[i]
	if c == 'n' {
		// null leaves a field as it is, except that it takes an object or
		// an array away.
		next, err := literal(data, i, "null")
		if err != nil {
			return 0, err
		}
		switch f.kind {
		case kObject:
			*(*unsafe.Pointer)(at) = nil
			for _, nf := range objects[f.nested].fields {
				if nf.slot >= 0 {
					d.slots[nf.slot].gen = 0
				}
			}
		case kStrings:
			*(*[]string)(at) = nil
		}
		return next, nil
	}
	switch f.kind {
	case kString:
		if c == '"' {
			return d.stringValue(data, i, at, f)
		}
	case kInt64, kInt:
		if c != '-' && (c < '0' || c > '9') {
			break
		}
		n, end, err := parseInt(data, i)
		if err != nil {
			return 0, err
		}
		if f.kind == kInt64 {
			*(*int64)(at) = n
		} else if int64(int(n)) == n {
			*(*int)(at) = int(n)
		} else {
			return 0, &typeError{want: "an int", off: i}
		}
		return end, nil
	case kBool:
		if c != 't' && c != 'f' {
			break
		}
		lit := "false"
		if c == 't' {
			lit = "true"
		}
		next, err := literal(data, i, lit)
		if err != nil {
			return 0, err
		}
		*(*bool)(at) = c == 't'
		return next, nil
	case kTime:
		if c != '"' {
			break
		}
		end, _, err := scanString(data, i)
		if err != nil {
			return 0, err
		}
		// As encoding/json does through time.Time.UnmarshalJSON: the bytes
		// between the quotes as they are, escapes not undone.
		if err := (*time.Time)(at).UnmarshalJSON(data[i:end]); err != nil {
			return 0, err
		}
		return end, nil
	case kStrings:
		if c == '[' {
			return d.stringArray(data, i, depth, (*[]string)(at))
		}
	case kObject:
		if c != '{' {
			break
		}
		o := &objects[f.nested]
		p := (*unsafe.Pointer)(at)
		if *p == nil {
			*p = o.alloc()
		}
		return d.object(data, i, depth+1, *p, o)
	}
	if _, err := skipValue(data, i, depth); err != nil {
		return 0, err
	}
	return 0, &typeError{want: "of the field's type", off: i}
}

// stringValue decodes the string at data[i] into the string at at, field
// f: an interned value at once, any other at the end of the event, from
// the arena.
func (d *Decoder) stringValue(data []byte, i int, at unsafe.Pointer, f *field) (int, error) {
	end, esc, err := scanString(data, i)
	if err != nil {
		return 0, err
	}
	v := data[i+1 : end-1]
	if esc {
		d.tmp = unquote(d.tmp[:0], v)
		v = d.tmp
	}
	if f.interned && len(v) <= internMaxLen {
		s := d.last[f.slot]
		if string(v) != s {
			var ok bool
			if s, ok = d.intern[string(v)]; !ok {
				if len(d.intern) >= internMax {
					d.resetIntern()
				}
				s = string(v)
				d.intern[s] = s
			}
			d.last[f.slot] = s
		}
		*(*string)(at) = s
		d.slots[f.slot].gen = 0
		return end, nil
	}
	off := len(d.arena)
	d.arena = append(d.arena, v...)
	d.slots[f.slot] = slot{off: int32(off), end: int32(len(d.arena)), gen: d.gen}
	d.anySet = true
	return end, nil
}

// str decodes the string at data[i] into a string of its own.
func (d *Decoder) str(data []byte, i int) (string, int, error) {
	end, esc, err := scanString(data, i)
	if err != nil {
		return "", 0, err
	}
	v := data[i+1 : end-1]
	if esc {
		d.tmp = unquote(d.tmp[:0], v)
		v = d.tmp
	}
	return string(v), end, nil
}

// stringArray decodes the array at data[i] (a '[') into *dst as
// encoding/json decodes an array into a []string: into the slice as it is,
// element by element (null leaves an element as it is, also one the slice
// exposes again from its capacity), growing it as append does, then
// truncated to the array's length; an empty array makes an empty slice that
// is not nil.
func (d *Decoder) stringArray(data []byte, i, depth int, dst *[]string) (int, error) {
	if depth+1 > maxDepth {
		return 0, &syntaxError{msg: "exceeded max depth", off: i}
	}
	s := *dst
	n := 0
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == ']' {
		*dst = []string{}
		return i + 1, nil
	}
	for {
		if i >= len(data) {
			return 0, errEOF
		}
		if n >= len(s) {
			if n < cap(s) {
				s = s[:n+1]
			} else {
				s = append(s, "")
			}
		}
		switch data[i] {
		case '"':
			v, end, err := d.str(data, i)
			if err != nil {
				return 0, err
			}
			s[n] = v
			i = end
		case 'n':
			end, err := literal(data, i, "null")
			if err != nil {
				return 0, err
			}
			i = end
		default:
			if _, err := skipValue(data, i, depth+1); err != nil {
				return 0, err
			}
			return 0, &typeError{want: "a string", off: i}
		}
		n++
		if i = skipWS(data, i); i >= len(data) {
			return 0, errEOF
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case ']':
			*dst = s[:n]
			return i + 1, nil
		default:
			return 0, errAt(data, i, "after array element")
		}
	}
}
