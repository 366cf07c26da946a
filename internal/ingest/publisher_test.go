package ingest

import "testing"

func TestJSONTrue(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{`{"stream":"S","seq":1}`, false},
		{`{"stream":"S","seq":1,"duplicate": true}`, true},
		{`{"stream":"S","seq":1,"duplicate":true}`, true},
		{`{"stream":"S","seq":1,"duplicate" : true}`, true},
		{`{"stream":"S","seq":1,"duplicate":false}`, false},
		{`{"stream":"S","seq":1,"duplicate"}`, false},
	}
	for _, tt := range tests {
		if got := jsonTrue([]byte(tt.in), `"duplicate"`); got != tt.want {
			t.Errorf("jsonTrue(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
