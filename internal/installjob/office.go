package installjob

import (
	"strings"
	"unicode"
)

// OfficeConfig is what an Office Deployment Tool configuration asks
// Click-to-Run to do. The document is the Item/Data of an Exec on the Office
// CSP node Installation/{id}/install; names follow the ODT configuration
// options reference (Configuration/Add/Product/Language, Remove).
type OfficeConfig struct {
	// ProductIDs are the ID attributes of Add/Product, in document order,
	// without empty values and without duplicates (compared ignoring case;
	// the first spelling is kept).
	ProductIDs []string
	// Channel is Add's Channel attribute, or its deprecated predecessor
	// Branch when Channel is absent.
	Channel string
	// Version is Add's Version attribute; empty when the configuration
	// does not pin a build.
	Version string
	// Edition is Add's OfficeClientEdition attribute ("32" or "64").
	Edition string
	// Languages are the ID attributes of Add/Product/Language across all
	// products, in order of first appearance, deduplicated like ProductIDs.
	// Values such as "MatchOS" are kept as sent.
	Languages []string
	// Remove reports a Remove element in the configuration (for instance
	// <Remove All="TRUE"/>): the install also, or only, uninstalls.
	Remove bool
}

// ParseOfficeConfig parses an Office Deployment Tool configuration (Office
// CSP, Exec of Installation/{id}/install). Element and attribute names are
// matched ignoring case, since hand-written configurations vary; when there
// are several Add elements, each scalar comes from the first that sets it.
// Input leniency, limits, errors and cost are as for ParseMSIJob.
func ParseOfficeConfig(data []byte) (OfficeConfig, error) {
	root, err := prepare(data, "Configuration")
	if err != nil {
		return OfficeConfig{}, err
	}
	var c OfficeConfig
	products, languages := set{}, set{}
	for _, e := range root.ChildElements() {
		switch {
		case strings.EqualFold(e.Tag, "Remove"):
			c.Remove = true
		case strings.EqualFold(e.Tag, "Add"):
			channel := attr(e, "Channel")
			if channel == "" {
				channel = attr(e, "Branch")
			}
			setOnce(&c.Channel, channel)
			setOnce(&c.Version, attr(e, "Version"))
			setOnce(&c.Edition, attr(e, "OfficeClientEdition"))
			for _, p := range e.ChildElements() {
				if !strings.EqualFold(p.Tag, "Product") {
					continue
				}
				products.add(&c.ProductIDs, attr(p, "ID"))
				for _, l := range p.ChildElements() {
					if strings.EqualFold(l.Tag, "Language") {
						languages.add(&c.Languages, attr(l, "ID"))
					}
				}
			}
		}
	}
	return c, nil
}

func setOnce(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// set deduplicates ignoring case, with the equivalence of strings.EqualFold.
// A map rather than a scan of the list, because a hostile document may carry
// MaxElements products.
type set map[string]struct{}

func (s set) add(list *[]string, v string) {
	if v == "" {
		return
	}
	k := foldKey(v)
	if _, dup := s[k]; dup {
		return
	}
	s[k] = struct{}{}
	*list = append(*list, v)
}

// foldKey maps v to a key equal for exactly the strings strings.EqualFold
// considers equal: each rune becomes the smallest rune of its simple case
// folding orbit. strings.ToLower is not that ("ſ" and "s" fold together but
// lower-case differently).
func foldKey(v string) string {
	return strings.Map(func(r rune) rune {
		lo := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < lo {
				lo = f
			}
		}
		return lo
	}, v)
}
