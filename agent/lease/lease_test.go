package lease

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestLeases(t *testing.T) {
	c := NewFake()
	tb := NewTable()
	tb.Hold("a", c.Now().Add(2*time.Second))
	tb.Hold("b", c.Now().Add(5*time.Second))
	if n, ok := tb.Next(); !ok || !n.Equal(c.Now().Add(2*time.Second)) {
		t.Fatal("next")
	}
	c.Advance(1500 * time.Millisecond)
	if len(tb.Expired(c.Now())) != 0 || tb.Left("a", c.Now()) != 500*time.Millisecond {
		t.Fatal("too early")
	}
	if err := tb.Renew("a", c.Now().Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	c.Advance(1900 * time.Millisecond)
	if got := tb.Expired(c.Now()); len(got) != 0 {
		t.Fatalf("renewed lease expired: %v", got)
	}
	c.Advance(2100 * time.Millisecond)
	if got := tb.Expired(c.Now()); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("expired %v", got)
	}
	tb.End("a", "lease-lapsed", c.Now())
	var ended *EndedError
	if err := tb.Renew("a", c.Now()); !errors.As(err, &ended) || ended.Reason != "lease-lapsed" {
		t.Fatalf("renew after end: %v", err)
	}
	if err := tb.Renew("zzz", c.Now()); !errors.Is(err, ErrUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	tb.Hold("a", c.Now().Add(time.Second))
	if _, ok := tb.Ended("a"); ok {
		t.Fatal("re-held fault still in history")
	}
}

func TestHistoryIsBounded(t *testing.T) {
	tb := NewTable()
	now := time.Unix(0, 0)
	for i := 0; i < HistorySize+10; i++ {
		id := string(rune('a'+i%26)) + time.Duration(i).String()
		tb.Hold(id, now)
		tb.End(id, "requested", now)
	}
	if len(tb.order) != HistorySize || len(tb.ended) != HistorySize {
		t.Fatalf("history %d/%d", len(tb.order), len(tb.ended))
	}
	if _, ok := tb.Ended("a" + time.Duration(0).String()); ok {
		t.Fatal("the oldest is still remembered")
	}
	last := HistorySize + 9
	if _, ok := tb.Ended(string(rune('a'+last%26)) + time.Duration(last).String()); !ok {
		t.Fatal("the newest is forgotten")
	}
}
