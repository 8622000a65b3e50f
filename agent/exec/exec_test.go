package exec

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// A change made over netlink is recorded beside the programs run, as its command line after the
// Netlink word; a refusal as tc's exit status 2 with the kernel's reason. An executor that keeps
// no record (the real one) is left alone.
func TestDoneRecordsNetlinkChanges(t *testing.T) {
	log := NewLog(&Recorder{})
	log.Run(t.Context(), []string{"iptables-legacy-save"}, "")
	if err := Done(log, []string{"tc", "qdisc", "add", "dev", "eth0"}, "", 1500*time.Microsecond, nil); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("RTNETLINK answers: file exists")
	if err := Done(log, []string{"nft", "-f", "-"}, "create table inet x\n", time.Millisecond, refused); err != refused {
		t.Fatalf("Done returned %v", err)
	}
	runs := log.Runs()
	if len(runs) != 3 || runs[0].Argv[0] != "iptables-legacy-save" {
		t.Fatalf("%+v", runs)
	}
	if !slices.Equal(runs[1].Argv, []string{Netlink, "tc", "qdisc", "add", "dev", "eth0"}) || runs[1].ExitCode != 0 || runs[1].DurationMs != 1.5 || runs[1].Stderr != "" {
		t.Fatalf("%+v", runs[1])
	}
	if runs[2].ExitCode != 2 || runs[2].Stderr != refused.Error() || runs[2].Stdin != "create table inet x\n" {
		t.Fatalf("%+v", runs[2])
	}
	if err := Done(Real{}, []string{"tc"}, "", 0, refused); err != refused {
		t.Fatal("the error is not passed on without a log")
	}
}
