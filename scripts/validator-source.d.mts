// Types of validator-source.mjs, for the unit tests that import it.
import type Ajv from "ajv";

export declare const ajvOptions: Readonly<Record<string, unknown>>;
export declare function validationSchema(schema: unknown): unknown;
export declare function createAjv(overrides?: Readonly<Record<string, unknown>>): Ajv;
export declare function generateValidatorSource(schema: unknown): string;
