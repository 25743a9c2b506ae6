#ifndef LEMMA_GENERATOR_SPACE_H_
#define LEMMA_GENERATOR_SPACE_H_

// The search space of the generator: a universe of input tensors and the op
// templates, and the one place where a template is applied to symbolic
// inputs. An application is valid when the op registry's shape inference
// accepts it at both size assignments (A and B, generator/symbolic.h) and the
// symbolic dims of its outputs agree with the inferred ones at both.

#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/symbolic.h"
#include "generator/universe.h"
#include "ir/types.h"
#include "rules/pattern.h"

namespace lemma {

/// A template applied to inputs: its attributes and outputs.
struct Application {
  /// Concrete attributes at assignment A.
  Attributes attrs;
  /// Symbolic dims of each output.
  std::vector<SymShape> outputs;
  /// Output types at assignment A.
  std::vector<TensorType> types;
  /// The attributes written in size variables, with their schema index:
  /// constant shapes, split sizes, conv groups.
  std::vector<std::pair<size_t, SymAttr>> symbolic;
};

/// The universe and the templates, and how templates apply (copyable).
class SearchSpace {
 public:
  /// Checks the universe (unique valid names, at most kMaxTensors tensors,
  /// variables used by the templates) and the templates (at most
  /// kMaxTemplates, in the generator op set).
  static absl::StatusOr<SearchSpace> Create(Universe universe, std::vector<OpTemplate> templates);

  /// Limits of the compact graph encoding (generator/enumerate.h).
  static constexpr int kMaxTensors = 24;
  static constexpr int kMaxTemplates = 63;

  const Universe& universe() const { return universe_; }
  std::span<const OpTemplate> templates() const { return templates_; }
  const std::vector<std::string>& variable_names() const { return names_; }
  /// Variable values in assignment A (which == 0) or B (which == 1).
  std::span<const int64_t> values(int which) const { return which == 0 ? values_a_ : values_b_; }
  /// The f32 type of `shape` at assignment `which`.
  TensorType TypeOf(const SymShape& shape, int which) const;

  /// How many ways template `tmpl` can be applied to `inputs` (the boundaries
  /// a split can cut at; 1 for other templates); 0 when the inputs do not
  /// have the template's ranks and roles.
  int NumChoices(int tmpl, std::span<const SymShape* const> inputs) const;
  /// Applies template `tmpl` with `choice` (below NumChoices); nullopt when
  /// the application is not valid at both assignments.
  std::optional<Application> Apply(int tmpl, int choice,
                                   std::span<const SymShape* const> inputs) const;
  /// The attributes of an application as a pattern writes them.
  std::vector<PatternAttrValue> PatternAttrs(const Application& app) const;

 private:
  SearchSpace() = default;
  bool InputsFit(const OpTemplate& t, std::span<const SymShape* const> inputs) const;

  Universe universe_;
  std::vector<OpTemplate> templates_;
  std::vector<std::string> names_;
  std::vector<int64_t> values_a_, values_b_;
};

}  // namespace lemma

#endif  // LEMMA_GENERATOR_SPACE_H_
