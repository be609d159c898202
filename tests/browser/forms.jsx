// HTML form helpers shared by the bundles (bodies.jsx, page_requests.jsx).

/** One <input name value> in `form` per [name, value] of `fields`. */
export function addFields(form, fields) {
  for (const [name, value] of fields || []) {
    const input = document.createElement("input");
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
}
