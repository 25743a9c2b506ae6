#ifndef LEMMA_IR_ATTRIBUTES_H_
#define LEMMA_IR_ATTRIBUTES_H_

// Typed operator attributes. Each op's registry entry (ir/op_registry.h) holds
// the schema of its attributes; an Attributes value holds one value per schema
// entry, in schema order, with defaults filled in.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"

namespace lemma {

enum class OpKind : uint16_t;

/// What kind of value an attribute holds.
enum class AttrKind : uint8_t {
  kInt,    // int64_t
  kInts,   // std::vector<int64_t>
  kFloat,  // double
  kEnum,   // one of the schema's enum names, stored as its index
};

/// "an integer", "a list of integers like [1,2]", ...: for messages.
std::string_view AttrKindDescription(AttrKind kind);

/// An attribute value. Enum values are stored as their index (an int64_t).
using AttrValue = std::variant<int64_t, std::vector<int64_t>, double>;

/// Fused activation of matmul and conv2d.
enum class Activation : int64_t { kNone, kRelu, kSigmoid, kTanh };
/// How conv2d and the pools pad: explicit `pads`, or "same" (output spatial
/// size ceil(in / stride), the odd padding element at the end).
enum class Padding : int64_t { kExplicit, kSame };

/// One entry of an op's attribute schema.
struct AttrSpec {
  std::string_view name;
  AttrKind kind;
  /// nullopt: the attribute is required.
  std::optional<AttrValue> default_value;
  /// Enum names, indexed by the stored value (kEnum only).
  std::span<const std::string_view> enum_names = {};
  /// For kInts: the required number of elements, or -1 for any.
  int length = -1;
};

/// The attribute values of one op, in the order of its schema.
class Attributes {
 public:
  /// The attributes of `op` with every optional one at its default and every
  /// required one unset.
  explicit Attributes(OpKind op);

  OpKind op() const { return op_; }

  /// Sets `name`. Fails when the op has no such attribute, the value has the
  /// wrong kind or length, or an enum index is out of range.
  absl::Status Set(std::string_view name, AttrValue value);
  /// Sets an enum attribute by its text name.
  absl::Status SetEnum(std::string_view name, std::string_view enum_name);
  /// Whether `name` has a value (optional attributes always do).
  bool Has(std::string_view name) const;
  /// Fails naming the first required attribute that has no value.
  absl::Status CheckComplete() const;

  /// Typed getters. Asking for an attribute the schema lacks, of the wrong
  /// kind, or unset is a programmer error (checked).
  int64_t GetInt(std::string_view name) const;
  const std::vector<int64_t>& GetInts(std::string_view name) const;
  double GetFloat(std::string_view name) const;
  template <typename Enum>
  Enum GetEnum(std::string_view name) const {
    return static_cast<Enum>(GetInt(name));
  }

  /// Values in schema order (nullopt: a required attribute not set yet).
  std::span<const std::optional<AttrValue>> values() const { return values_; }
  /// The schema these values follow.
  std::span<const AttrSpec> schema() const;

  /// "name=value" for one attribute, as the text format writes it.
  std::string FormatValue(size_t index) const;
  /// Whether the value at `index` equals its default.
  bool IsDefault(size_t index) const;

  friend bool operator==(const Attributes&, const Attributes&) = default;

 private:
  int IndexOf(std::string_view name) const;
  template <typename T>
  const T& Get(std::string_view name) const;

  OpKind op_;
  std::vector<std::optional<AttrValue>> values_;
};

}  // namespace lemma

#endif  // LEMMA_IR_ATTRIBUTES_H_
