#ifndef LEMMA_IR_DOT_H_
#define LEMMA_IR_DOT_H_

// Graphviz DOT output, for looking at graphs: `dot -Tsvg graph.dot`.

#include <span>
#include <string>
#include <string_view>

#include "ir/graph.h"

namespace lemma {

/// The graph as a Graphviz digraph. Inputs (green "invhouse") and weights
/// (yellow "cylinder") look different; each op is a box labelled with its op
/// name and its non-default attributes; each edge is labelled with the type of
/// the tensor it carries, prefixed with "[i]" when the producer has more than
/// one output; each graph output is a blue "house" sink node labelled with its
/// name. Node ids are n<node> for nodes and out<k> for outputs. Quotes and
/// backslashes in labels are escaped. Deterministic: the same graph always
/// gives the same text.
std::string WriteDot(const Graph& graph);

/// One titled panel of a picture.
struct DotPanel {
  std::string title;
  const Graph* graph;
};
/// Several graphs side by side in one digraph, each in a titled cluster (a
/// rule's source and target, a region before and after a rewrite). Node ids
/// are p<panel>_n<node> and p<panel>_out<k>; otherwise as WriteDot.
std::string WriteDotPanels(std::string_view title, std::span<const DotPanel> panels);

}  // namespace lemma

#endif  // LEMMA_IR_DOT_H_
