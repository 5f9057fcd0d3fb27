// validate.mjs - checks every object of the given multi-document YAML files against the Kubernetes OpenAPI schemas
// (kubernetes-models: types, required fields, enums, formats). Exit 0 when all are valid, 1 otherwise.
// Run by tests/deploy/k8s_schema.sh from the folder it installed the pinned packages into.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

let bad = 0;
let n = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`FAIL ${file}: YAML: ${doc.errors[0].message}`);
      bad++;
      continue;
    }
    const o = doc.toJS();
    if (o === null) continue;
    n++;
    const what = `${file}: ${o.apiVersion} ${o.kind} ${o.metadata && o.metadata.name}`;
    let Model;
    try {
      Model = (await import(`kubernetes-models/${o.apiVersion}`))[o.kind];
    } catch (e) {
      Model = undefined;
    }
    if (!Model) {
      console.log(`FAIL ${what}: no schema for this apiVersion and kind`);
      bad++;
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      console.log(`FAIL ${what}: ${e.message}`);
      bad++;
    }
  }
}
console.log(`schema: ${n} objects, ${bad} invalid`);
process.exit(bad || n === 0 ? 1 : 0);
