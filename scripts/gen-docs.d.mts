// Types of gen-docs.mjs, for the unit test that imports it.
export declare const root: string;
export declare const referencePath: string;
export declare function renderScenarioReference(schema: unknown): string;
