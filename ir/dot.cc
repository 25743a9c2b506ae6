#include "ir/dot.h"

#include <vector>

#include "ir/strings.h"

namespace lemma {
namespace {

// `text` escaped for a double-quoted DOT string: quotes and backslashes get a
// backslash, line breaks become \n and other control characters spaces.
std::string Escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      StrAppend(&out, '\\', c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A label of several lines: each escaped, joined with DOT's \n.
std::string Label(const std::vector<std::string>& lines) {
  std::vector<std::string> escaped;
  for (const std::string& line : lines) escaped.push_back(Escape(line));
  return StrCat("\"", StrJoin(escaped, "\\n"), "\"");
}

std::vector<std::string> OpLines(const Node& node) {
  std::vector<std::string> lines = {std::string(OpName(node.op))};
  const Attributes& attrs = node.attrs;
  for (size_t i = 0; i < attrs.schema().size(); ++i) {
    if (!attrs.IsDefault(i))
      lines.push_back(StrCat(attrs.schema()[i].name, "=", attrs.FormatValue(i)));
  }
  return lines;
}

std::string NodeLine(std::string_view prefix, NodeId id, const Node& node) {
  if (node.op == OpKind::kInput || node.op == OpKind::kWeight) {
    const bool input = node.op == OpKind::kInput;
    return StrCat("  ", prefix, "n", id, " [label=",
                  Label({StrCat(OpName(node.op), " ", node.names[0]), node.outputs[0].ToString()}),
                  input ? ", shape=invhouse, fillcolor=\"#d9ead3\""
                        : ", shape=cylinder, fillcolor=\"#fff2cc\"",
                  "];\n");
  }
  return StrCat("  ", prefix, "n", id, " [label=", Label(OpLines(node)),
                ", shape=box, fillcolor=\"#ffffff\"];\n");
}

// The label of an edge carrying `v`.
std::string EdgeLabel(const Graph& graph, ValueId v) {
  const std::string type = graph.type(v).ToString();
  if (graph.node(v.node).outputs.size() == 1) return Label({type});
  return Label({StrCat("[", v.index, "] ", type)});
}

// The nodes and edges of `graph`, node ids prefixed with `prefix`.
void AppendBody(const Graph& graph, std::string_view prefix, std::string& out) {
  for (NodeId id = 0; id < graph.num_nodes(); ++id) out += NodeLine(prefix, id, graph.node(id));
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    for (ValueId in : graph.node(id).inputs) {
      StrAppend(&out, "  ", prefix, "n", in.node, " -> ", prefix, "n", id,
                " [label=", EdgeLabel(graph, in), "];\n");
    }
  }
  for (size_t k = 0; k < graph.outputs().size(); ++k) {
    const GraphOutput& o = graph.outputs()[k];
    StrAppend(&out, "  ", prefix, "out", k, " [label=", Label({StrCat("output ", o.name)}),
              ", shape=house, fillcolor=\"#cfe2f3\"];\n");
    StrAppend(&out, "  ", prefix, "n", o.value.node, " -> ", prefix, "out", k,
              " [label=", EdgeLabel(graph, o.value), "];\n");
  }
}

std::string Header(std::string_view title) {
  return StrCat("digraph ", Label({std::string(title)}), " {\n",
                "  node [fontname=\"Helvetica\", fontsize=10, style=filled];\n",
                "  edge [fontname=\"Helvetica\", fontsize=9];\n");
}

}  // namespace

std::string WriteDot(const Graph& graph) {
  std::string out = Header(graph.name());
  AppendBody(graph, "", out);
  out += "}\n";
  return out;
}

std::string WriteDotPanels(std::string_view title, std::span<const DotPanel> panels) {
  std::string out = Header(title);
  for (size_t p = 0; p < panels.size(); ++p) {
    StrAppend(&out, "  subgraph cluster_", p, " {\n  label=", Label({panels[p].title}),
              ";\n  style=rounded;\n");
    AppendBody(*panels[p].graph, StrCat("p", p, "_"), out);
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

}  // namespace lemma
