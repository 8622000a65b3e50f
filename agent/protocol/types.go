// Package protocol is the chaos-agent protocol, version 1: the requests the runner (or a human,
// or another agent) sends, and the replies the agent gives. The JSON Schema in
// schemas/agent-protocol.schema.json is the contract; these types mirror it, and every request is
// validated against it before it is decoded (see Parse).
package protocol

// Version is the protocol version this agent speaks.
const Version = 1

// Ops.
const (
	OpApply  = "apply"
	OpRevert = "revert"
	OpRenew  = "renew"
	OpStatus = "status"
	OpSweep  = "sweep"
)

// Fault kinds.
const (
	KindNetem     = "netem"
	KindPartition = "partition"
	KindKill      = "kill"
	KindStress    = "stress"
	KindHTTP      = "http"
	KindGRPC      = "grpc"
)

// Request is any of the schema's requests; Op says which fields are set.
type Request struct {
	Protocol int    `json:"protocol"`
	Op       string `json:"op"`
	RunID    string `json:"runId"`
	// apply
	Fault *FaultRequest `json:"fault,omitempty"`
	// revert, renew
	FaultID string `json:"faultId,omitempty"`
	// renew
	LeaseMs int64 `json:"leaseMs,omitempty"`
	// sweep
	Own *bool `json:"own,omitempty"`
	// status: false when an agent asks another one what it holds (no orphan scan, which would
	// ask the asker back)
	ScanOrphans *bool `json:"scanOrphans,omitempty"`
	// apply: check and say how, change nothing
	DryRun bool `json:"dryRun,omitempty"`
	// resolve (dns.go)
	Names       []string `json:"names,omitempty"`
	QType       string   `json:"type,omitempty"`
	Count       int      `json:"count,omitempty"`
	TimeoutMs   int      `json:"timeoutMs,omitempty"`
	TCP         bool     `json:"tcp,omitempty"`
	ContainerID string   `json:"containerId,omitempty"`
}

// FaultRequest is the fault of an apply request.
type FaultRequest struct {
	ID      string    `json:"id"`
	LeaseMs int64     `json:"leaseMs"`
	Spec    FaultSpec `json:"spec"`
}

// FaultSpec is a fault as what it is: its kind and parameters (the union of NetemSpec,
// PartitionSpec, HttpSpec, GrpcSpec, KillSpec and StressSpec; Kind says which).
type FaultSpec struct {
	Kind      string       `json:"kind"`
	Interface string       `json:"interface,omitempty"`
	Scope     *Scope       `json:"scope,omitempty"`
	Netem     *NetemParams `json:"netem,omitempty"`
	HTTP      *HTTPParams  `json:"http,omitempty"`
	DNS       *DNSParams   `json:"dns,omitempty"`
	GRPC      *GRPCParams  `json:"grpc,omitempty"`
	// kill
	Signal      string `json:"signal,omitempty"`
	Container   string `json:"container,omitempty"`
	ContainerID string `json:"containerId,omitempty"`
	// stress
	CPU    *StressCPU    `json:"cpu,omitempty"`
	Memory *StressMemory `json:"memory,omitempty"`
}

// StressCPU asks for CPU workers, each using Load percent of one CPU.
type StressCPU struct {
	Workers int     `json:"workers"`
	Load    float64 `json:"load"`
}

// StressMemory asks for Bytes allocated and touched.
type StressMemory struct {
	Bytes int64 `json:"bytes"`
}

// HTTPParams are an HTTP fault's: the port the pod serves, and what the proxy does to each
// faulted request.
type HTTPParams struct {
	Port      int      `json:"port"`
	DelayMs   *float64 `json:"delayMs,omitempty"`
	JitterMs  *float64 `json:"jitterMs,omitempty"`
	ErrorRate *float64 `json:"errorRate,omitempty"`
	ErrorCode int      `json:"errorCode,omitempty"`
	ErrorBody string   `json:"errorBody,omitempty"`
	Exclude   []string `json:"exclude,omitempty"`
	Methods   []string `json:"methods,omitempty"`
}

// GRPCParams are a gRPC fault's: the port the pod serves, and what the proxy does to each
// faulted call.
type GRPCParams struct {
	Port      int      `json:"port"`
	DelayMs   *float64 `json:"delayMs,omitempty"`
	JitterMs  *float64 `json:"jitterMs,omitempty"`
	ErrorRate *float64 `json:"errorRate,omitempty"`
	// Status is the gRPC code of an injected error (1..16); 0: the default, 14 UNAVAILABLE.
	Status  int      `json:"status,omitempty"`
	Message string   `json:"message,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
	// FaultHealth: also fault grpc.health.v1.Health (by default it passes untouched, so the
	// kubelet's gRPC probes do not restart the pod).
	FaultHealth bool `json:"faultHealth,omitempty"`
}

// NetemParams are netem's options; only those given are set.
type NetemParams struct {
	DelayMs      *float64 `json:"delayMs,omitempty"`
	JitterMs     *float64 `json:"jitterMs,omitempty"`
	Correlation  *float64 `json:"correlation,omitempty"`
	Distribution string   `json:"distribution,omitempty"`
	Loss         *float64 `json:"loss,omitempty"`
	Duplicate    *float64 `json:"duplicate,omitempty"`
	Corrupt      *float64 `json:"corrupt,omitempty"`
	Reorder      *float64 `json:"reorder,omitempty"`
	Rate         string   `json:"rate,omitempty"`
}

// Scope selects traffic: to/from a CIDR, with a source or destination port, of a protocol.
type Scope struct {
	CIDR     string `json:"cidr,omitempty"`
	Port     int    `json:"port,omitempty"`
	Protocol string `json:"protocol,omitempty"`
}

// Reply is the agent's answer to one request.
type Reply struct {
	Protocol int             `json:"protocol"`
	Op       string          `json:"op"`
	OK       bool            `json:"ok"`
	Agent    AgentInfo       `json:"agent"`
	Error    *ReplyError     `json:"error,omitempty"`
	Commands []CommandRun    `json:"commands"`
	Fault    *FaultState     `json:"fault,omitempty"`
	Faults   []FaultState    `json:"faults,omitempty"`
	Reverted []RevertOutcome `json:"reverted,omitempty"`
	Orphans  []RevertOutcome `json:"orphans,omitempty"`
	Resolved *ResolveResult  `json:"resolved,omitempty"`
}

// AgentInfo says which agent answered.
type AgentInfo struct {
	Name            string `json:"name"`
	RunID           string `json:"runId"`
	Version         string `json:"version"`
	TTLLeftMs       int64  `json:"ttlLeftMs"`
	IptablesBackend string `json:"iptablesBackend,omitempty"`
	// Firewall is what the agent's firewall faults use here, once it made one (Firewall*).
	Firewall string `json:"firewall,omitempty"`
	// Locking: the agent holds the pod's lock, or is taking it (how the others tell an agent
	// that holds the lock from a squatter).
	Locking bool `json:"locking,omitempty"`
}

// Error codes.
const (
	ErrBadRequest       = "bad-request"
	ErrUnknownFault     = "unknown-fault"
	ErrLeaseLapsed      = "lease-lapsed"
	ErrConflict         = "conflict"
	ErrUnrestorable     = "unrestorable"
	ErrNoInterface      = "no-interface"
	ErrNoBackend        = "no-backend"
	ErrApplyFailed      = "apply-failed"
	ErrVerifyFailed     = "verify-failed"
	ErrRevertIncomplete = "revert-incomplete"
	ErrUnsupported      = "unsupported"
	ErrUnreachable      = "unreachable"
	ErrExiting          = "exiting"
	ErrReverted         = "reverted"
	ErrForbidden        = "forbidden"
	ErrInternal         = "internal"
)

// ReplyError is why a request failed.
type ReplyError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Owner   *Owner `json:"owner,omitempty"`
}

func (e *ReplyError) Error() string { return e.Code + ": " + e.Message }

// Owner names who holds an object a fault would need.
type Owner struct {
	Agent   string `json:"agent"`
	RunID   string `json:"runId"`
	FaultID string `json:"faultId"`
}

// CommandRun is one command the agent ran, with its outcome.
type CommandRun struct {
	Argv       []string `json:"argv"`
	Stdin      string   `json:"stdin,omitempty"`
	ExitCode   int      `json:"exitCode"`
	Stderr     string   `json:"stderr,omitempty"`
	DurationMs float64  `json:"durationMs"`
}

// FaultState is a fault as the kernel holds it.
type FaultState struct {
	ID          string         `json:"id"`
	RunID       string         `json:"runId"`
	Kind        string         `json:"kind"`
	Interface   string         `json:"interface"`
	Families    []int          `json:"families"`
	Objects     []KernelObject `json:"objects"`
	LeaseLeftMs int64          `json:"leaseLeftMs"`
	// ExpiresInKernel: the kernel ends the fault by itself when its lease is not renewed
	// (KernelLeaseMs after the last renewal); false: an agent must end it.
	ExpiresInKernel bool           `json:"expiresInKernel"`
	KernelLeaseMs   int64          `json:"kernelLeaseMs,omitempty"`
	Detail          string         `json:"detail"`
	Kill            *KillState     `json:"kill,omitempty"`
	Stress          *StressReading `json:"stress,omitempty"`
	DNS             *DNSReading    `json:"dns,omitempty"`
	GRPC            *GRPCReading   `json:"grpc,omitempty"`
}

// KillState says which process a kill signals, and how.
type KillState struct {
	PID         int    `json:"pid"`
	Process     string `json:"process"`
	Signal      string `json:"signal"`
	Mechanism   string `json:"mechanism"` // kill | ptrace
	Init        bool   `json:"init"`
	Disposition string `json:"disposition"` // handled | default | ignored
	Blocked     bool   `json:"blocked,omitempty"`
}

// StressReading is what a stress fault measured while held.
type StressReading struct {
	ElapsedMs float64        `json:"elapsedMs"`
	CPU       *CPUReading    `json:"cpu,omitempty"`
	Memory    *MemoryReading `json:"memory,omitempty"`
}

// CPUReading: the workers' asked and achieved load, and what the cgroup says.
type CPUReading struct {
	Workers        int      `json:"workers"`
	Load           float64  `json:"load"`
	AchievedLoad   float64  `json:"achievedLoad"`
	CPUTimeMs      float64  `json:"cpuTimeMs"`
	WaitMs         *float64 `json:"waitMs,omitempty"`
	CgroupUsageMs  *float64 `json:"cgroupUsageMs,omitempty"`
	ThrottledMs    *float64 `json:"throttledMs,omitempty"`
	ThrottleSource string   `json:"throttleSource,omitempty"`
}

// MemoryReading: what the memory stressor holds, and whether the OOM killer took it.
type MemoryReading struct {
	Bytes            int64  `json:"bytes"`
	AllocatedBytes   int64  `json:"allocatedBytes"`
	OOMKilled        bool   `json:"oomKilled"`
	PID              int    `json:"pid,omitempty"`
	OOMKillsInCgroup *int64 `json:"oomKillsInCgroup,omitempty"`
	Ended            string `json:"ended,omitempty"`
}

// Kernel object types.
const (
	ObjQdisc     = "qdisc"
	ObjFilter    = "filter"
	ObjChain     = "chain"
	ObjTable     = "table" // an nftables table (Table: its family)
	ObjRule      = "rule"
	ObjSavedRoot = "saved-root"
	ObjProcess   = "process"
	ObjThread    = "thread"
	ObjProxy     = "proxy"
)

// KernelObject is one thing a fault made, named as tc or iptables name it.
type KernelObject struct {
	Type   string `json:"type"`
	Name   string `json:"name"`
	Family int    `json:"family,omitempty"`
	Table  string `json:"table,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// What the agent's firewall faults use (AgentInfo.Firewall).
const (
	FirewallNftables       = "nftables"
	FirewallIptablesNft    = "iptables-nft"
	FirewallIptablesLegacy = "iptables-legacy"
	FirewallNone           = "none"
)

// Revert reasons.
const (
	ReasonRequested   = "requested"
	ReasonLeaseLapsed = "lease-lapsed"
	ReasonTTL         = "ttl"
	ReasonTerminated  = "terminated"
	ReasonSweep       = "sweep"
	ReasonOrphan      = "orphan"
	ReasonApplyFailed = "apply-failed"
)

// RevertOutcome is how one revert went.
type RevertOutcome struct {
	FaultID   string         `json:"faultId"`
	RunID     string         `json:"runId,omitempty"`
	Agent     string         `json:"agent,omitempty"`
	Confirmed bool           `json:"confirmed"`
	Reason    string         `json:"reason,omitempty"`
	Detail    string         `json:"detail"`
	Remaining []KernelObject `json:"remaining,omitempty"`
	Stress    *StressReading `json:"stress,omitempty"`
	HTTP      *HTTPReading   `json:"http,omitempty"`
	DNS       *DNSReading    `json:"dns,omitempty"`
	GRPC      *GRPCReading   `json:"grpc,omitempty"`
}

// HTTPReading is what an http fault's proxy did while it served.
type HTTPReading struct {
	Connections int64 `json:"connections"`
	Relayed     int64 `json:"relayed"`
	Requests    int64 `json:"requests"`
	// H2C: connections that spoke h2c (their requests are in Requests).
	H2C     int64 `json:"h2c,omitempty"`
	Faulted int64 `json:"faulted"`
	Errors  int64 `json:"errors"`
}

// GRPCReading is what a grpc fault's proxy did while it served.
type GRPCReading struct {
	Connections  GRPCConnections `json:"connections"`
	Calls        int64           `json:"calls"`
	Faulted      int64           `json:"faulted"`
	Errors       int64           `json:"errors"`
	Delayed      int64           `json:"delayed"`
	Relayed      int64           `json:"relayed"`
	StreamsReset int64           `json:"streamsReset"`
	Excluded     int64           `json:"excluded"`
}

// GRPCConnections counts a grpc fault's client connections by what they spoke.
type GRPCConnections struct {
	H2C           int64 `json:"h2c"`
	HTTP1         int64 `json:"http1"`
	PassedThrough int64 `json:"passedThrough"`
}

// ExitCode is the exit status of `chaos-agent request` for a reply, as the schema's description
// fixes it: 0 ok; 2 bad request (nothing done); 3 a revert did not complete; 4 refused (conflict
// with a live run, unrestorable, unsupported, or forbidden: not the agent's own requester); 1 any
// other failure (nothing of the fault remains; reverted: a late apply of a reverted fault).
func ExitCode(r *Reply) int {
	if r.OK {
		return 0
	}
	if r.Error == nil {
		return 1
	}
	switch r.Error.Code {
	case ErrBadRequest:
		return 2
	case ErrRevertIncomplete:
		return 3
	case ErrConflict, ErrUnrestorable, ErrUnsupported, ErrForbidden:
		return 4
	}
	return 1
}
