// Prints every command name the lab's images offer, one a line: `lab up` links
// each to the shim in kwok's PATH.
import { knownImages, lookupImage } from "./images.js";

const names = new Set<string>();
for (const image of knownImages()) for (const c of lookupImage(image)?.commands ?? []) names.add(c);
process.stdout.write([...names].sort().join("\n") + "\n");
