// Package compose reads the subset of the Compose file format that
// cspwatch's docker-compose.yml uses, so that tests can check the file
// against the code (service names, ports, environment, health checks)
// on machines without Docker. It is not a YAML parser: it accepts block
// mappings and sequences by indentation, flow sequences of scalars, plain
// and quoted scalars and comments, and rejects anything else (anchors,
// multi-line strings, flow mappings, tabs) with the line number, so the file
// cannot silently drift outside what is checked.
package compose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/cspwatch/cspwatch/internal/envflag"
)

// Node is a parsed value: exactly one of Map, List or Scalar is meaningful.
type Node struct {
	Map    map[string]*Node
	Keys   []string // Map's keys in file order
	List   []*Node
	Scalar string
	IsMap  bool
	IsList bool
}

// File is a parsed compose file.
type File struct {
	Root *Node
}

// Service is one entry of the top-level services mapping.
type Service struct {
	Name        string
	Image       string
	Build       string
	Entrypoint  []string
	Command     []string
	Environment map[string]string
	Ports       []string
	Volumes     []string
	DependsOn   []string
	Healthcheck []string
}

// ErrSyntax marks input outside the supported subset.
var ErrSyntax = errors.New("compose: unsupported syntax")

type line struct {
	no     int
	indent int
	text   string
}

// Load reads and parses path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return Parse(b)
}

// Parse parses a compose file's bytes.
func Parse(b []byte) (*File, error) {
	var lines []line
	sc := bufio.NewScanner(bytes.NewReader(b))
	for no := 1; sc.Scan(); no++ {
		raw := sc.Text()
		if strings.ContainsRune(raw, '\t') {
			return nil, fmt.Errorf("%w: line %d: tab", ErrSyntax, no)
		}
		text := stripComment(raw)
		if strings.TrimSpace(text) == "" {
			continue
		}
		indent := len(text) - len(strings.TrimLeft(text, " "))
		lines = append(lines, line{no, indent, strings.TrimSpace(text)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	p := parser{lines: lines}
	root, err := p.block(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(lines) {
		return nil, fmt.Errorf("%w: line %d: unexpected indentation", ErrSyntax, lines[p.pos].no)
	}
	return &File{Root: root}, nil
}

// stripComment drops a # comment that is not inside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

type parser struct {
	lines []line
	pos   int
}

// block parses the lines at exactly indent as one mapping or sequence.
func (p *parser) block(indent int) (*Node, error) {
	if p.pos >= len(p.lines) || p.lines[p.pos].indent < indent {
		return &Node{}, nil
	}
	indent = p.lines[p.pos].indent
	if strings.HasPrefix(p.lines[p.pos].text, "- ") || p.lines[p.pos].text == "-" {
		return p.sequence(indent)
	}
	return p.mapping(indent)
}

func (p *parser) sequence(indent int) (*Node, error) {
	n := &Node{IsList: true}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent {
		l := p.lines[p.pos]
		if !strings.HasPrefix(l.text, "- ") {
			return nil, fmt.Errorf("%w: line %d: mapping entry inside a sequence", ErrSyntax, l.no)
		}
		item := strings.TrimSpace(l.text[2:])
		if strings.Contains(item, ": ") || strings.HasSuffix(item, ":") {
			return nil, fmt.Errorf("%w: line %d: mapping as a sequence item", ErrSyntax, l.no)
		}
		v, err := scalarOrFlow(item, l.no)
		if err != nil {
			return nil, err
		}
		n.List = append(n.List, v)
		p.pos++
	}
	return n, nil
}

func (p *parser) mapping(indent int) (*Node, error) {
	n := &Node{IsMap: true, Map: map[string]*Node{}}
	for p.pos < len(p.lines) && p.lines[p.pos].indent == indent {
		l := p.lines[p.pos]
		key, rest, ok := strings.Cut(l.text, ":")
		if !ok || strings.HasPrefix(l.text, "- ") {
			return nil, fmt.Errorf("%w: line %d: want key: value", ErrSyntax, l.no)
		}
		key, err := unquote(strings.TrimSpace(key), l.no)
		if err != nil {
			return nil, err
		}
		if _, dup := n.Map[key]; dup {
			return nil, fmt.Errorf("%w: line %d: duplicate key %q", ErrSyntax, l.no, key)
		}
		rest = strings.TrimSpace(rest)
		p.pos++
		var v *Node
		if rest == "" {
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				v, err = p.block(p.lines[p.pos].indent)
			} else {
				v = &Node{} // an empty value, as in "volumes:\n  data:"
			}
		} else {
			v, err = scalarOrFlow(rest, l.no)
		}
		if err != nil {
			return nil, err
		}
		n.Map[key] = v
		n.Keys = append(n.Keys, key)
	}
	if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
		return nil, fmt.Errorf("%w: line %d: unexpected indentation", ErrSyntax, p.lines[p.pos].no)
	}
	return n, nil
}

func scalarOrFlow(s string, no int) (*Node, error) {
	switch {
	case strings.HasPrefix(s, "["):
		if !strings.HasSuffix(s, "]") {
			return nil, fmt.Errorf("%w: line %d: multi-line flow sequence", ErrSyntax, no)
		}
		n := &Node{IsList: true}
		inner := strings.TrimSpace(s[1 : len(s)-1])
		if inner == "" {
			return n, nil
		}
		for _, part := range splitFlow(inner) {
			v, err := unquote(strings.TrimSpace(part), no)
			if err != nil {
				return nil, err
			}
			n.List = append(n.List, &Node{Scalar: v})
		}
		return n, nil
	case strings.HasPrefix(s, "{"), strings.HasPrefix(s, "&"), strings.HasPrefix(s, "*"),
		strings.HasPrefix(s, "|"), strings.HasPrefix(s, ">"), strings.HasPrefix(s, "<<"):
		return nil, fmt.Errorf("%w: line %d: %q", ErrSyntax, no, s)
	}
	v, err := unquote(s, no)
	if err != nil {
		return nil, err
	}
	return &Node{Scalar: v}, nil
}

// splitFlow splits a flow sequence's inside at commas outside quotes.
func splitFlow(s string) []string {
	var parts []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == ',':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

func unquote(s string, no int) (string, error) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		v, err := strconv.Unquote(s)
		if err != nil {
			return "", fmt.Errorf("%w: line %d: %v", ErrSyntax, no, err)
		}
		return v, nil
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'"), nil
	}
	if strings.ContainsAny(s[:min(1, len(s))], `"'`) {
		return "", fmt.Errorf("%w: line %d: unterminated quote", ErrSyntax, no)
	}
	return s, nil
}

// Services returns the services of the file, by name.
func (f *File) Services() (map[string]Service, error) {
	svcs := f.Root.get("services")
	if svcs == nil || !svcs.IsMap {
		return nil, fmt.Errorf("compose: no services mapping")
	}
	out := map[string]Service{}
	for _, name := range svcs.Keys {
		n := svcs.Map[name]
		s := Service{
			Name:        name,
			Image:       n.get("image").scalar(),
			Build:       n.get("build").scalar(),
			Entrypoint:  n.get("entrypoint").strings(),
			Command:     n.get("command").strings(),
			Ports:       n.get("ports").strings(),
			Volumes:     n.get("volumes").strings(),
			Healthcheck: n.get("healthcheck").get("test").strings(),
			Environment: map[string]string{},
		}
		if env := n.get("environment"); env != nil {
			for _, k := range env.Keys {
				s.Environment[k] = env.Map[k].Scalar
			}
		}
		if dep := n.get("depends_on"); dep != nil {
			if dep.IsMap {
				s.DependsOn = dep.Keys
			} else {
				s.DependsOn = dep.strings()
			}
		}
		out[name] = s
	}
	return out, nil
}

// Volumes returns the names of the top-level named volumes.
func (f *File) Volumes() []string {
	if v := f.Root.get("volumes"); v != nil {
		return v.Keys
	}
	return nil
}

func (n *Node) get(key string) *Node {
	if n == nil || !n.IsMap {
		return nil
	}
	return n.Map[key]
}

func (n *Node) scalar() string {
	if n == nil {
		return ""
	}
	return n.Scalar
}

func (n *Node) strings() []string {
	if n == nil {
		return nil
	}
	if !n.IsList {
		if n.Scalar == "" {
			return nil
		}
		return []string{n.Scalar}
	}
	out := make([]string, len(n.List))
	for i, v := range n.List {
		out[i] = v.Scalar
	}
	return out
}

// helpFlag matches a flag's line in flag.PrintDefaults output.
var helpFlag = regexp.MustCompile(`(?m)^  -(\S+)`)

// UnknownEnv returns the service's environment variables under prefix that
// name none of the flags listed in help (a command's -h output), sorted.
// The commands ignore such variables, so each one is a setting that
// silently does nothing.
func (s Service) UnknownEnv(prefix, help string) []string {
	known := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
		known[envflag.Key(prefix, m[1])] = true
	}
	var out []string
	for k := range s.Environment {
		if !known[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
