// The records a run leaves in the cluster (ClusterRecords): Events on pods, and ConfigMaps that
// keep results. Part of the client-node adapter (client-node.ts hands it its CoreV1Api), written
// against the few calls it makes so that client-node.ts stays the one importer of the library.
import type { ApiOperation } from "./api-errors.js";
import type { ClusterRecords, ConfigMapMeta, ConfigMapSpec, PodEvent, StoredConfigMap } from "./types.js";

// as client-node's models declare them (optional, never undefined)
interface ObjectMeta {
  name?: string;
  namespace?: string;
  generateName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: Date;
}

interface ConfigMapJson {
  metadata?: ObjectMeta;
  data?: Record<string, string>;
  /** base64, as the API carries bytes */
  binaryData?: Record<string, string>;
}

interface EventJson {
  metadata: ObjectMeta;
  involvedObject: { apiVersion: string; kind: string; name: string; namespace: string; uid: string };
  reason: string;
  message: string;
  type: string;
  action: string;
  source: { component: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: Date;
  lastTimestamp: Date;
  count: number;
}

/** The calls of client-node's CoreV1Api this file makes. */
export interface RecordsApi {
  createNamespacedEvent(p: { namespace: string; body: EventJson }): Promise<unknown>;
  createNamespacedConfigMap(p: { namespace: string; body: ConfigMapJson }): Promise<unknown>;
  listNamespacedConfigMap(p: { namespace: string; labelSelector: string }, options?: unknown): Promise<{ items: ConfigMapJson[] }>;
  listConfigMapForAllNamespaces(p: { labelSelector: string }, options?: unknown): Promise<{ items: ConfigMapJson[] }>;
  readNamespacedConfigMap(p: { name: string; namespace: string }): Promise<ConfigMapJson>;
  deleteNamespacedConfigMap(p: { name: string; namespace: string }): Promise<unknown>;
}

/** Runs a call; its failure becomes an error that says what to do (client-node.ts's). */
type Call = <T>(op: ApiOperation, fn: () => Promise<T>) => Promise<T>;

/** Who reports the Events (core v1's reportingComponent, and source.component, which kubectl describe shows as From). */
export const REPORTING_COMPONENT = "chaos-run";

function meta(cm: ConfigMapJson, namespace: string | undefined): ConfigMapMeta {
  const m = cm.metadata ?? {};
  const created = m.creationTimestamp;
  return {
    namespace: m.namespace ?? namespace ?? "",
    name: m.name ?? "",
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
    createdAt: created === undefined ? undefined : new Date(created).getTime(),
  };
}

export class ClientNodeRecords implements ClusterRecords {
  constructor(
    private readonly api: RecordsApi,
    private readonly call: Call,
    /** the HTTP status of a failed call, if it got one */
    private readonly statusOf: (e: unknown) => number | undefined,
    /** asks for metadata only in a list (the server leaves each journal out) */
    private readonly metadataOnly: unknown,
  ) {}

  async createEvent(e: PodEvent): Promise<void> {
    const at = new Date(e.at);
    const body: EventJson = {
      // a name of its own per Event (the API server completes it), as client-go's recorder names them after the object
      metadata: { generateName: `${e.pod.name}.`, namespace: e.pod.namespace },
      involvedObject: { apiVersion: "v1", kind: "Pod", name: e.pod.name, namespace: e.pod.namespace, uid: e.pod.uid },
      reason: e.reason,
      message: e.message,
      type: e.type,
      action: e.action,
      source: { component: REPORTING_COMPONENT },
      reportingComponent: REPORTING_COMPONENT,
      reportingInstance: e.reportingInstance,
      firstTimestamp: at,
      lastTimestamp: at,
      count: 1,
    };
    await this.call({ doing: `record an Event (${e.reason}) on pod ${e.pod.name} in`, verb: "create", resource: "events", namespace: e.pod.namespace }, () =>
      this.api.createNamespacedEvent({ namespace: e.pod.namespace, body }),
    );
  }

  async createConfigMap(namespace: string, spec: ConfigMapSpec): Promise<void> {
    const binary = Object.entries(spec.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString("base64")] as const);
    const body: ConfigMapJson = {
      metadata: { name: spec.name, namespace, labels: { ...spec.labels }, annotations: { ...spec.annotations } },
      ...(spec.data === undefined ? {} : { data: { ...spec.data } }),
      ...(binary.length === 0 ? {} : { binaryData: Object.fromEntries(binary) }),
    };
    await this.call({ doing: `store the result ${spec.name} in`, verb: "create", resource: "configmaps", namespace }, () => this.api.createNamespacedConfigMap({ namespace, body }));
  }

  async listConfigMaps(namespace: string | undefined, selector: string): Promise<ConfigMapMeta[]> {
    const list = await this.call({ doing: "list results in", verb: "list", resource: "configmaps", namespace: namespace ?? "(all namespaces)" }, () =>
      namespace === undefined
        ? this.api.listConfigMapForAllNamespaces({ labelSelector: selector }, this.metadataOnly)
        : this.api.listNamespacedConfigMap({ namespace, labelSelector: selector }, this.metadataOnly),
    );
    // a metadata-only list with nothing in it comes as "items": null (PartialObjectMetadataList)
    return (list.items ?? []).map((cm) => meta(cm, namespace));
  }

  async readConfigMap(namespace: string, name: string): Promise<StoredConfigMap | undefined> {
    let cm: ConfigMapJson;
    try {
      cm = await this.api.readNamespacedConfigMap({ name, namespace });
    } catch (e) {
      if (this.statusOf(e) === 404) return undefined;
      return this.call({ doing: `read the result ${name} in`, verb: "get", resource: "configmaps", namespace }, () => Promise.reject(e));
    }
    const binaryData = Object.fromEntries(Object.entries(cm.binaryData ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, "base64"))]));
    return { ...meta(cm, namespace), data: cm.data ?? {}, binaryData };
  }

  async deleteConfigMap(namespace: string, name: string): Promise<void> {
    try {
      await this.api.deleteNamespacedConfigMap({ name, namespace });
    } catch (e) {
      if (this.statusOf(e) === 404) return;
      await this.call({ doing: `delete the result ${name} in`, verb: "delete", resource: "configmaps", namespace }, () => Promise.reject(e));
    }
  }
}
