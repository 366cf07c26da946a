package eventjson

import (
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/cspwatch/cspwatch/internal/codes"
	"github.com/cspwatch/cspwatch/internal/event"
)

// The decoder's fields are event.Fields: at init each is found in Event (or
// in its nested object) by its json tag, which gives the Go type to read and
// where the value lies in the struct. Decoding then sets a field through its
// offset, without reflection and without a case per field, so a field added
// to event.Fields and Event is decoded with no change here.

// kind is how the decoder reads a field: its Go type.
type kind uint8

const (
	kString  kind = iota // string
	kInt64               // int64
	kInt                 // int (schema_version)
	kBool                // bool
	kTime                // time.Time (received_at)
	kStrings             // []string
	kObject              // a pointer to one of event.Objects
)

// field is one field of an object as the decoder reads it.
type field struct {
	key  string
	kind kind
	// off is where the value lies in the struct of its object.
	off uintptr
	// slot is a string field's index in Decoder.slots and strFields.
	slot int
	// interned: the field's values repeat across events and go through
	// the intern table; the others go to the arena.
	interned bool
	// nested is the index in objects of the object a kObject field holds.
	nested int
}

// object is the event (objects[0]) or one of its nested objects.
type object struct {
	// fields are in wire order, the nested objects last.
	fields []field
	// byKey indexes fields by key, for keys out of wire order.
	byKey map[string]int
	// off is where the pointer to the object lies in Event, and alloc
	// allocates one; both unused for the event itself.
	off   uintptr
	alloc func() unsafe.Pointer
}

// strField locates a string field that goes through Decoder.slots.
type strField struct {
	obj int // index in objects
	off uintptr
}

// maxSlots bounds the string fields and maxObjects the objects (the event
// and its nested ones), so that the decoder keeps what it has of each in
// arrays; init panics when event.Fields outgrows them.
const (
	maxSlots   = 64
	maxObjects = 8
)

var (
	objects   []object
	strFields []strField // by slot
)

// uniqueFields are the string fields whose values are unique, or nearly, per
// event: interning them would only churn the table. The fields of msi_job
// and office_config are not interned either: they come with command events,
// one per install command.
var uniqueFields = map[string]bool{
	"event_id": true, "device_id": true, "text": true, "mdm_received_at": true,
	"cmd_id_raw": true, "cmd_ref_raw": true,
}

func init() {
	objects, strFields = buildObjects()
}

// buildObjects derives the decoder's objects from event.Fields and
// event.Objects. A field without its Go field, or of a type the decoder
// does not read, panics: the tests then fail at once.
func buildObjects() ([]object, []strField) {
	evType := reflect.TypeFor[event.Event]()
	if len(event.Objects) >= maxObjects {
		panic("eventjson: more than maxObjects objects")
	}
	objs := []object{{}}
	types := []reflect.Type{evType}
	index := map[string]int{"": 0}
	for _, o := range event.Objects {
		sf := structField(evType, o.Key)
		if sf.Type.Kind() != reflect.Pointer || sf.Type.Elem().Kind() != reflect.Struct {
			panic("eventjson: event object " + o.Key + " is not a pointer to a struct")
		}
		t := sf.Type.Elem()
		index[o.Key] = len(objs)
		objs = append(objs, object{off: sf.Offset, alloc: func() unsafe.Pointer { return reflect.New(t).UnsafePointer() }})
		types = append(types, t)
	}
	var strs []strField
	for _, f := range event.Fields {
		k, ok := index[f.Object]
		if !ok {
			panic("eventjson: field " + f.Path() + " of unknown object")
		}
		sf := structField(types[k], f.JSON)
		df := field{key: f.JSON, kind: kindOf(f, sf.Type), off: sf.Offset, slot: -1}
		if df.kind == kString {
			if len(strs) == maxSlots {
				panic("eventjson: more than maxSlots string fields")
			}
			df.slot = len(strs)
			df.interned = (f.Object == "" || f.Object == event.ProductKey) && !uniqueFields[f.Path()]
			strs = append(strs, strField{obj: k, off: sf.Offset})
		}
		objs[k].fields = append(objs[k].fields, df)
	}
	for i, o := range event.Objects {
		objs[0].fields = append(objs[0].fields, field{key: o.Key, kind: kObject, off: objs[i+1].off, slot: -1, nested: i + 1})
	}
	for k := range objs {
		objs[k].byKey = make(map[string]int, len(objs[k].fields))
		for i, f := range objs[k].fields {
			objs[k].byKey[f.key] = i
		}
	}
	return objs, strs
}

// structField finds the field of t whose json tag names key.
func structField(t reflect.Type, key string) reflect.StructField {
	for i := range t.NumField() {
		sf := t.Field(i)
		if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name == key {
			return sf
		}
	}
	panic("eventjson: " + t.String() + " has no field tagged " + key)
}

// kindOf is how the decoder reads f, a field of Go type t.
func kindOf(f event.Field, t reflect.Type) kind {
	switch {
	case t.Kind() == reflect.String:
		return kString
	case t.Kind() == reflect.Int64:
		return kInt64
	case t.Kind() == reflect.Int:
		return kInt
	case t.Kind() == reflect.Bool:
		return kBool
	case t == reflect.TypeFor[[]string]():
		return kStrings
	case t.PkgPath() == "time" && t.Name() == "Time":
		return kTime
	}
	panic("eventjson: field " + f.Path() + " has type " + t.String() + ", which the decoder does not read")
}

// find returns the index in o.fields of the field of key, or -1 for an
// unknown key, as encoding/json matches keys: the exact name, or else the
// name that equals key under Unicode simple case folding (so "Event_ID" and
// "\u212aind", with a Kelvin sign, are fields too). hint is where the key
// usually stands: the encoder writes keys in wire order, so after the
// previous key's field or a few fields on (the empty ones it leaves out).
// A look from there costs a few length compares where a switch on the key
// or a map costs a hash or a search.
func (o *object) find(key []byte, hint int) int {
	for k := hint; k < len(o.fields); k++ {
		if string(key) == o.fields[k].key {
			return k
		}
	}
	if k, ok := o.byKey[string(key)]; ok {
		return k
	}
	if len(key) > 64 {
		return -1 // longer than any field name could fold from
	}
	var buf [64]byte
	folded := buf[:0]
	for i := 0; i < len(key); {
		c := key[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(key[i:])
			i += n
			if r = foldRune(r); r >= utf8.RuneSelf {
				return -1 // every field name is ASCII
			}
			c = byte(r)
		} else {
			i++
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		folded = append(folded, c)
	}
	if k, ok := o.byKey[string(folded)]; ok {
		return k
	}
	return -1
}

// foldRune returns the smallest rune of r's simple case folding orbit, as
// encoding/json folds names.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// Interning bounds: a table that fills up is cleared and reseeded, so a
// stream of distinct values (a misuse of a field) costs at most internMax
// strings and never grows without bound.
const (
	internMax    = 4096
	internMaxLen = 160
)

// internSeed are values known in advance, so the table starts useful.
var internSeed = []string{
	event.KindAlert, event.KindResult, event.KindStatus, event.KindInventory, event.KindCommand,
	event.OutcomeRequested, event.CommandAdd, event.CommandReplace, event.CommandExec, event.CommandGet,
	event.CommandDelete, event.CommandAtomic, event.CommandSequence,
	event.ScopeDevice, event.ScopeUser, event.CSPOffice, event.CSPMSI,
	// normalize.InstallAlertType, which this package cannot import without
	// internal/syncml (TestInternSeed keeps the two equal).
	"com.microsoft.mdm.win32csp_install",
	string(codes.SpaceOfficeStatus), string(codes.SpaceOfficeFinal), string(codes.SpaceMSIStatus),
	string(codes.SpaceWin32), string(codes.SpaceHRESULT), string(codes.SpaceOMADM),
	string(codes.Succeeded), string(codes.Failed), string(codes.InProgress), string(codes.Pending),
	string(codes.Retrying), string(codes.Unknown),
	string(codes.CatPrerequisite), string(codes.CatNetwork), string(codes.CatConflict), string(codes.CatDisk),
	string(codes.CatContent), string(codes.CatSignature), string(codes.CatUserCancel),
	string(codes.CatRebootRequired), string(codes.CatNotFound), string(codes.CatPolicy), string(codes.CatAuth),
	string(codes.CatClient), string(codes.CatCommand), string(codes.CatInstaller), string(codes.CatAtomic),
	string(codes.CatUnknown),
	"Status", "FinalStatus", "CurrentStatus", "Install", "UpgradeCode",
	"DownloadInstall", "InstallDate", "InstallPath", "LastError", "LastErrorDesc", "Name", "Publisher", "Version",
	"informational", "critical", "warning", "fatal", "major", "minor",
}

// resetIntern empties the intern table, or makes it, and seeds it.
func (d *Decoder) resetIntern() {
	if d.intern == nil {
		d.intern = make(map[string]string, 256)
	} else {
		clear(d.intern)
	}
	for _, s := range internSeed {
		d.intern[s] = s
	}
}
