// Probe URL templates: {{ target.ip }} as a URL's host is bracketed when it is IPv6.
import { describe, expect, it } from "vitest";
import { renderTemplate } from "../../src/scenario/template.js";

const v6 = { target: { ip: "fd00:c612::5", name: "web-0" }, env: { PORT: "8080" } };
const v4 = { target: { ip: "198.18.0.5", name: "web-0" }, env: { PORT: "8080" } };

describe("{{ target.ip }}", () => {
  it("an IPv6 address as the URL's host is bracketed, with or without a port or userinfo", () => {
    expect(renderTemplate("http://{{ target.ip }}/", v6)).toBe("http://[fd00:c612::5]/");
    expect(renderTemplate("http://{{ target.ip }}:{{ env.PORT }}/ready", v6)).toBe("http://[fd00:c612::5]:8080/ready");
    expect(renderTemplate("https://user:pw@{{target.ip}}/x", v6)).toBe("https://user:pw@[fd00:c612::5]/x");
  });
  it("IPv4 as it is; IPv6 elsewhere in the URL (a query, a path) as it is; an address already bracketed is left alone", () => {
    expect(renderTemplate("http://{{ target.ip }}/", v4)).toBe("http://198.18.0.5/");
    expect(renderTemplate("http://proxy/?to={{ target.ip }}", v6)).toBe("http://proxy/?to=fd00:c612::5");
    expect(renderTemplate("http://[{{ target.ip }}]:80/", v6)).toBe("http://[fd00:c612::5]:80/");
    expect(renderTemplate("http://{{ target.name }}.svc/", v6)).toBe("http://web-0.svc/");
  });
});
