package firewall_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"chaos-run/agent/exec"
	"chaos-run/agent/firewall"
	"chaos-run/agent/internal/fakekernel"
	"chaos-run/agent/ownership"
)

// Where nf_tables answers, the inventory runs no program: the faults' tables and iptables-nft's
// CHAOS- chains are both read over netlink; iptables-legacy-save runs only where the namespace
// has legacy tables.
func TestInventoryReadsNftablesOverNetlink(t *testing.T) {
	k := fakekernel.New()
	k.Nftables = true
	ctx := context.Background()
	part, err := firewall.Partition{FaultID: "p1", Iface: "eth0"}.NftTable([]int{4}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.NftCreate(part); err != nil {
		t.Fatal(err)
	}
	tx := firewall.Redirect{FaultID: "h1", Iface: "eth0", Port: 80, ProxyPort: 4000}.ApplyTransaction()
	if r := k.Run(ctx, firewall.RestoreArgv(firewall.NFT, 4), tx); !r.OK() {
		t.Fatal(r.Why())
	}
	k.ResetCalls()
	log := exec.NewLog(k)
	found := firewall.Inventory(ctx, log, k, k.ReadFile)
	want := []firewall.Found{
		{Key: ownership.ChainKey{Table: "inet", Name: "CHAOS-p1"}, Backend: firewall.Nftables},
		{Key: ownership.ChainKey{Family: 4, Table: "filter", Name: "CHAOS-h1"}, Backend: firewall.NFT},
		{Key: ownership.ChainKey{Family: 4, Table: "nat", Name: "CHAOS-h1"}, Backend: firewall.NFT},
	}
	if !slices.Equal(found, want) || len(log.Runs()) != 0 {
		t.Fatalf("found %+v, ran %+v", found, log.Runs())
	}
	// a legacy table in the namespace: its chains are read with iptables-legacy-save
	if r := k.Run(ctx, []string{"iptables-legacy", "-w", "-N", "KUBE-X"}, ""); !r.OK() {
		t.Fatal(r.Why())
	}
	firewall.Inventory(ctx, log, k, k.ReadFile)
	if runs := log.Runs(); len(runs) != 1 || runs[0].Argv[0] != "iptables-legacy-save" {
		t.Fatalf("ran %+v", runs)
	}
}
