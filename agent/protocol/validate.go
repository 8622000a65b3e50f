package protocol

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// SchemaJSON is a copy of schemas/agent-protocol.schema.json (a test keeps the two equal).
//
//go:embed agent-protocol.schema.json
var SchemaJSON []byte

const schemaID = "urn:chaos-run:agent-protocol:1"

// MaxRequestBytes bounds what a request may weigh (a fault is a few hundred bytes).
const MaxRequestBytes = 64 << 10

var (
	compileOnce sync.Once
	requestSch  *jsonschema.Schema
	replySch    *jsonschema.Schema
	compileErr  error
)

func compile() {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SchemaJSON))
	if err != nil {
		compileErr = fmt.Errorf("the embedded protocol schema is not JSON: %w", err)
		return
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaID, doc); err != nil {
		compileErr = err
		return
	}
	if requestSch, err = c.Compile(schemaID + "#/$defs/Request"); err != nil {
		compileErr = err
		return
	}
	replySch, compileErr = c.Compile(schemaID + "#/$defs/Reply")
}

// Parse validates raw against the schema's Request and decodes it. A request that is not valid
// yields a bad-request error whose message says what is wrong, and where.
func Parse(raw []byte) (*Request, *ReplyError) {
	bad := func(format string, a ...any) (*Request, *ReplyError) {
		return nil, &ReplyError{Code: ErrBadRequest, Message: fmt.Sprintf(format, a...)}
	}
	if len(raw) > MaxRequestBytes {
		return bad("a request is at most %d bytes, this one has %d", MaxRequestBytes, len(raw))
	}
	if compileOnce.Do(compile); compileErr != nil {
		return nil, &ReplyError{Code: ErrInternal, Message: "protocol schema: " + compileErr.Error()}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return bad("a request is one JSON object: %v", err)
	}
	if err := requestSch.Validate(inst); err != nil {
		return bad("invalid request: %s", explain(err))
	}
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		return bad("invalid request: %v", err)
	}
	return &req, nil
}

// ValidateReply checks a reply against the schema's Reply (tests, and the client before it
// prints what the serve process said).
func ValidateReply(r *Reply) error {
	if compileOnce.Do(compile); compileErr != nil {
		return compileErr
	}
	raw, err := Encode(r)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if err := replySch.Validate(inst); err != nil {
		return fmt.Errorf("invalid reply: %s", explain(err))
	}
	return nil
}

// explain turns a validation error into one line per problem ("at /fault/spec/netem/delayMs:
// must be <= 3600000 but found 4000000"). For the protocol's tagged unions (`oneOf` over `op` or
// `kind`), it explains only the branch whose tag matches, so the message is about what the
// sender meant, not about every other kind of request.
func explain(err error) string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err.Error()
	}
	var lines []string
	leaves(ve, &lines)
	sort.Strings(lines)
	lines = dedupe(lines)
	if len(lines) == 0 {
		return ve.Error()
	}
	if len(lines) > maxProblems {
		// a request of a few KiB can hold thousands of bad items: the reply says the first ones
		lines = append(lines[:maxProblems], fmt.Sprintf("and %d more", len(lines)-maxProblems))
	}
	return strings.Join(lines, "; ")
}

// maxProblems bounds the problems a bad-request message lists.
const maxProblems = 20

func leaves(e *jsonschema.ValidationError, out *[]string) {
	if oneOf, ok := e.ErrorKind.(*kind.OneOf); ok && len(oneOf.Subschemas) == 0 {
		var matching []*jsonschema.ValidationError
		var tags []string
		field := ""
		untagged := 0
		var missing []string
		for i, c := range e.Causes {
			f, want, miss, isTagged := branchTag(c, e.InstanceLocation)
			switch {
			case miss != nil:
				untagged++
				if i == 0 {
					missing = miss
				} else {
					missing = intersect(missing, miss)
				}
			case isTagged && want != "":
				field = f
				tags = append(tags, want)
			default:
				matching = append(matching, c)
			}
		}
		if untagged == len(e.Causes) && len(missing) > 0 {
			*out = append(*out, fmt.Sprintf("at %s: missing properties %s", where(e.InstanceLocation, ""), strings.Join(missing, ", ")))
			return
		}
		if len(matching) == 0 && len(tags) > 0 {
			*out = append(*out, fmt.Sprintf("at %s: must be one of %s", where(e.InstanceLocation, field), strings.Join(dedupe(tags), ", ")))
			return
		}
		if len(matching) == 1 {
			leaves(matching[0], out)
			return
		}
	}
	if len(e.Causes) == 0 {
		*out = append(*out, fmt.Sprintf("at %s: %s", where(e.InstanceLocation, ""), message(e)))
		return
	}
	for _, c := range e.Causes {
		leaves(c, out)
	}
}

func message(e *jsonschema.ValidationError) string {
	// the library's one-line form: "jsonschema validation failed with ... at '/x': msg"
	s := e.Error()
	if i := strings.Index(s, "': "); i >= 0 {
		return s[i+3:]
	}
	return s
}

// branchTag looks at why one branch of a tagged union failed, at the union's own location
// (loc): its tag (`op` or `kind`) has another value (isTagged, with the field and the value the
// branch wants), or the tag is missing (miss: the properties the branch misses).
func branchTag(e *jsonschema.ValidationError, loc []string) (field, want string, miss []string, isTagged bool) {
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		n := len(e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.Const:
			if n == len(loc)+1 && samePrefix(e.InstanceLocation, loc) && (e.InstanceLocation[n-1] == "op" || e.InstanceLocation[n-1] == "kind") {
				field, want, isTagged = e.InstanceLocation[n-1], fmt.Sprintf("%q", fmt.Sprint(k.Want)), true
			}
		case *kind.Required:
			if n == len(loc) && samePrefix(e.InstanceLocation, loc) {
				for _, m := range k.Missing {
					if m == "op" || m == "kind" {
						miss = k.Missing
					}
				}
			}
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(e)
	return
}

func samePrefix(a, prefix []string) bool {
	if len(a) < len(prefix) {
		return false
	}
	for i := range prefix {
		if a[i] != prefix[i] {
			return false
		}
	}
	return true
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

func where(loc []string, field string) string {
	if field != "" {
		loc = append(append([]string(nil), loc...), field)
	}
	if len(loc) == 0 {
		return "the top level"
	}
	return "/" + strings.Join(loc, "/")
}

func dedupe(s []string) []string {
	out := s[:0:0]
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Encode marshals a reply the way the schema wants it: arrays the schema requires are present
// even when empty.
func Encode(r *Reply) ([]byte, error) {
	c := *r
	if c.Commands == nil {
		c.Commands = []CommandRun{}
	}
	fix := func(f *FaultState) {
		if f.Families == nil {
			f.Families = []int{}
		}
		if f.Objects == nil {
			f.Objects = []KernelObject{}
		}
	}
	if c.Fault != nil {
		f := *c.Fault
		fix(&f)
		c.Fault = &f
	}
	if c.Faults != nil {
		fs := make([]FaultState, len(c.Faults))
		copy(fs, c.Faults)
		for i := range fs {
			fix(&fs[i])
		}
		c.Faults = fs
	}
	for i := range c.Commands {
		if c.Commands[i].DurationMs < 0 {
			c.Commands[i].DurationMs = 0
		}
	}
	return json.Marshal(&c)
}
