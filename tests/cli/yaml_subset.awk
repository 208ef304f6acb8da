# Flattens the block-style YAML subset the project's manifests use into "path=value" lines, e.g.
# spec.template.spec.containers[0].image=registry.example.com/mnet:latest, and fails (exit 1, "yaml:LINE: why")
# on anything outside it: tabs, flow collections, anchors, aliases, block scalars, tags, several documents,
# indentation that does not line up, a repeated key, a key without a value or children.
function fail(why) { printf "yaml:%d: %s\n", NR, why > "/dev/stderr"; failed = 1; exit 1 }
function unquote(v) {
  if (v ~ /^".*"$/ || v ~ /^'.*'$/) return substr(v, 2, length(v) - 2)
  if (v ~ /^[\[{&*!|>%@`]/) fail("unsupported YAML: " v)
  if (v ~ /^["']/) fail("unterminated quote: " v)
  sub(/[ ]+#.*$/, "", v)
  return v
}
function emit(path, value) {
  if (path in seen) fail("repeated key " path)
  seen[path] = 1
  print path "=" value
}
# A "key: value" or "key:" in the mapping at level `depth`.
function key_line(text, indent,    key, value) {
  if (!match(text, /^[A-Za-z0-9_.\/-]+:( |$)/)) fail("expected key: value, got: " text)
  key = substr(text, 1, index(text, ":") - 1)
  value = substr(text, RLENGTH + 1)
  sub(/^[ ]+/, "", value)
  if (value == "" || value ~ /^#/) {  # children follow, one level deeper
    pending_path = (path_of[depth] == "" ? "" : path_of[depth] ".") key
    pending_indent = indent
    return
  }
  emit((path_of[depth] == "" ? "" : path_of[depth] ".") key, unquote(value))
}
BEGIN { depth = 1; ind_of[1] = 0; path_of[1] = ""; pending_path = "" }
{
  if ($0 ~ /\t/) fail("tab character")
  if ($0 ~ /^[ ]*(#.*)?$/) next
  if ($0 ~ /^(---|\.\.\.)/) fail("several documents")
  match($0, /^ */)
  indent = RLENGTH
  text = substr($0, indent + 1)
  if (pending_path != "") {  # the first line below a "key:" opens its level
    if (indent <= pending_indent && !(indent == pending_indent && text ~ /^- /)) fail("key " pending_path " has no value")
    ind_of[++depth] = indent
    path_of[depth] = pending_path
    pending_path = ""
  }
  while (depth > 1 && indent < ind_of[depth]) depth--
  if (indent != ind_of[depth]) fail("indentation does not line up")
  if (text ~ /^- /) {
    seq = path_of[depth]
    item = seq "[" (count[seq]++) "]"
    text = substr(text, 3)
    sub(/^[ ]+/, "", text)
    if (text ~ /^[A-Za-z0-9_.\/-]+:( |$)/) {  # a mapping item: its keys line up after "- "
      ind_of[++depth] = indent + 2
      path_of[depth] = item
      key_line(text, indent + 2)
    } else {
      emit(item, unquote(text))
    }
    next
  }
  if (count[path_of[depth]] > 0) fail("a key inside a sequence")
  key_line(text, indent)
}
END { if (!failed && pending_path != "") { NR++; fail("key " pending_path " has no value") } }
