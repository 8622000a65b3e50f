// What the lab's "container runtime" knows how to run, by image name.
//
// A lab container is a real process on this machine, in its pod's network
// namespace and in a mount namespace of its own (private /run and /tmp). The
// image only decides which program is the entrypoint and which commands
// `kubectl exec` may run in it — so exec'ing `tc` in the nginx container fails
// here as it would on a real node, and a runner that execs in the wrong
// container is caught by the tests.

export interface LabImage {
  /** the image's ENTRYPOINT (a container's `command` replaces it) */
  entrypoint: string[];
  /** the image's CMD (a container's `args` replaces it) */
  cmd: string[];
  /** command names an exec may run in this image */
  commands: string[];
  /** directories the program writes to, given a private tmpfs per container */
  privateDirs: string[];
}

const basics = ["sh", "cat", "ls", "env", "sleep", "true", "false", "echo", "hostname", "ps", "kill", "id", "test"];

const images: Record<string, LabImage> = {
  nginx: {
    entrypoint: [],
    // $LAB: the lab's own directory (test/lab), for its nginx.conf (ports 80 and 8080)
    cmd: ["nginx", "-c", "$LAB/nginx.conf", "-g", "daemon off;"],
    commands: [...basics, "nginx"],
    privateDirs: ["/var/lib/nginx", "/var/log/nginx"],
  },
  "chaos-tools": {
    entrypoint: [],
    cmd: ["sleep", "infinity"],
    commands: [...basics, "ab", "curl", "ping", "ip", "ss"],
    privateDirs: [],
  },
  "chaos-agent": {
    entrypoint: ["chaos-agent"],
    cmd: ["serve"],
    commands: [
      ...basics,
      "chaos-agent",
      "tc",
      "ip",
      "iptables",
      "ip6tables",
      "iptables-legacy",
      "ip6tables-legacy",
      "iptables-nft",
      "ip6tables-nft",
      "iptables-save",
      "iptables-legacy-save",
      "iptables-nft-save",
    ],
    privateDirs: [],
  },
};

/** `docker.io/library/nginx:1.27`, `localhost/chaos-agent:latest`, `nginx@sha256:…` → `nginx`. */
export function imageName(ref: string): string {
  const noDigest = ref.split("@")[0] ?? ref;
  const last = noDigest.split("/").pop() ?? noDigest;
  return last.split(":")[0] ?? last;
}

export function lookupImage(ref: string): LabImage | undefined {
  return images[imageName(ref)];
}

export function knownImages(): string[] {
  return Object.keys(images);
}
