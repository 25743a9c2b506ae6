#ifndef LEMMA_GENERATOR_ENUMERATE_H_
#define LEMMA_GENERATOR_ENUMERATE_H_

// Depth-first enumeration of every operator graph of up to max_ops ops over a
// search space (generator/space.h), each fingerprinted on the way.
//
// A graph is a sequence of ops; each op applies a template to tensors that
// exist already (universe tensors and outputs of earlier ops). Its outputs
// are its sinks: op outputs no later op reads. Every graph (a DAG) is
// enumerated once, in one canonical order: each op has a structural key (a
// hash of its template, choice and its inputs' keys), and an op may follow
// the ops after its last producer only when its key is larger than theirs,
// which is the order that always places the smallest available op first.
// Commutative ops take their inputs in key order and never one tensor twice.
//
// Pruned as TASO prunes: an op that repeats an op of the graph (equal keys),
// and a tensor equal to one the graph holds already (a duplicate tensor):
// such a graph is not extended. It is still fingerprinted when it has one
// output and the tensor it repeats is an input or an inner value of the
// graph, which finds rules whose one side computes a value the other side
// holds (conv2d with const_iconv is its input, relu of relu is relu).
//
// Every op is evaluated once per graph state: each new op computes only its
// own outputs, with the reference evaluator in arithmetic modulo p, from the
// tensors already computed; ops over universe tensors are computed once for
// the whole run, and ops over one such op's outputs once per thread.
//
// A fingerprint is the sum, modulo 2^64, of a strong hash of each sink
// (dims and values), so it does not depend on the order of the outputs. A
// graph is stored as 16 bytes: its fingerprint and its code, the sequence of
// its ops in 64 bits.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "generator/space.h"
#include "ir/graph.h"
#include "kernels/tensor.h"

namespace lemma {

/// The most ops a graph code holds.
inline constexpr int kMaxGraphOps = 4;

/// One op of a graph: template `tmpl` applied to the tensors `in` (indices
/// into the graph's tensor list: the universe tensors, then each op's outputs
/// in order) with attribute choice `choice`.
struct GraphOp {
  int tmpl = 0;
  std::array<int, 2> in = {0, 0};
  int choice = 0;
  friend bool operator==(const GraphOp&, const GraphOp&) = default;
};

/// A graph in 64 bits: op i in bits [16i, 16i+16) as template+1 (6 bits) and
/// two 5-bit fields (the inputs; a unary op's second field is its choice).
/// The code of the graph with no ops whose output is universe tensor u (an
/// identity, for rules whose other side is an input) has u in op 0's first
/// field and 0 as its template.
using GraphCode = uint64_t;

/// A decoded graph code.
struct DecodedGraph {
  std::vector<GraphOp> ops;
  /// >= 0: the identity graph of this universe tensor (no ops).
  int identity = -1;
};

/// The number of ops of a coded graph (0 for an identity).
int NumOps(GraphCode code);
/// The code of `graph`; template arities come from `space`.
GraphCode EncodeGraph(const DecodedGraph& graph, const SearchSpace& space);
/// The graph of `code`, as EncodeGraph wrote it.
DecodedGraph DecodeGraph(GraphCode code, const SearchSpace& space);

/// A fingerprinted graph. Ordered by fingerprint, then code.
struct GraphRecord {
  uint64_t fingerprint = 0;
  GraphCode code = 0;
  friend bool operator==(const GraphRecord&, const GraphRecord&) = default;
  friend auto operator<=>(const GraphRecord&, const GraphRecord&) = default;
};

/// Counts of the enumeration.
struct EnumerationStats {
  int64_t graphs = 0;       // graphs fingerprinted
  int64_t duplicates = 0;   // of which end in a duplicate tensor (not extended)
  int64_t dropped = 0;      // ops whose output repeated a tensor and stated no rule
  int64_t evaluations = 0;  // ops evaluated by the reference evaluator
  int64_t cache_hits = 0;   // ops whose outputs were computed before
  /// Adds another run's counts.
  EnumerationStats& operator+=(const EnumerationStats& o);
};

/// A unit of work: the graph `prefix` and, unless `terminal`, every graph
/// that extends it. The units of a run partition its graphs.
struct WorkUnit {
  std::vector<GraphOp> prefix;
  bool terminal = false;
};

/// The shared, read-only state of an enumeration: universe tensors at the
/// seed's random values and every op over universe tensors, computed once.
class Enumerator {
 public:
  /// Evaluates the universe and its one-op graphs. `max_ops` is 1 to
  /// kMaxGraphOps.
  static absl::StatusOr<std::unique_ptr<Enumerator>> Create(const SearchSpace& space,
                                                            uint64_t seed, int max_ops);

  const SearchSpace& space() const { return *space_; }
  int max_ops() const { return max_ops_; }
  uint64_t seed() const { return seed_; }
  /// Number of one-op graphs over universe tensors.
  int num_first_ops() const { return static_cast<int>(first_.size()); }

  /// The work units: every graph of up to `unit_depth` ops is a unit, those
  /// with fewer ops (or ending in a duplicate tensor) terminal; in DFS order.
  std::vector<WorkUnit> Units(int unit_depth) const;
  /// The identity graphs of the universe tensors, fingerprinted.
  std::vector<GraphRecord> IdentityRecords() const;

 private:
  friend class EnumerationWorker;
  struct FirstOp {
    GraphOp op;
    uint64_t key;
    NodeId node;  // in base_
    std::vector<Tensor<uint64_t>> values;
    std::vector<uint64_t> hashes;
    std::vector<SymShape> shapes;
  };
  Enumerator() = default;

  const SearchSpace* space_ = nullptr;
  uint64_t seed_ = 1;
  int max_ops_ = 1;
  // Universe tensors as inputs 0..U-1, then the nodes of first_.
  Graph base_;
  std::vector<Tensor<uint64_t>> universe_values_;
  std::vector<uint64_t> universe_hashes_, universe_keys_;
  std::vector<FirstOp> first_;  // sorted by key
  absl::flat_hash_map<uint64_t, int> first_by_key_;
};

/// A graph replayed: the symbolic shape of each of its tensors (the universe
/// tensors, then each op's outputs) and its sinks with the hashes of their
/// values. An identity graph's one sink is its universe tensor.
struct ReplayedGraph {
  std::vector<SymShape> shapes;
  /// For each op, the index of its first output; its outputs run to the
  /// next op's first (or to the end).
  std::vector<int> first_output;
  std::vector<int> sinks;
  std::vector<uint64_t> sink_hashes;
};

/// One thread's enumeration state. Not thread-safe; one per thread.
class EnumerationWorker {
 public:
  explicit EnumerationWorker(const Enumerator& e);
  ~EnumerationWorker();
  EnumerationWorker(const EnumerationWorker&) = delete;
  EnumerationWorker& operator=(const EnumerationWorker&) = delete;

  /// Appends a record for every graph of `unit` to `out` and counts them in
  /// `stats`. Returns early (with the graphs found so far) once `stop` is set.
  absl::Status Run(const WorkUnit& unit, std::vector<GraphRecord>& out, EnumerationStats& stats,
                   const std::atomic<bool>& stop);
  /// Replays `graph` at the enumeration's values; fails when it does not
  /// apply (a code from another search space).
  absl::StatusOr<ReplayedGraph> Replay(const DecodedGraph& graph);

 private:
  friend class Enumerator;
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// The hash of a tensor's dims and values that fingerprints are made of.
uint64_t TensorHash(const Tensor<uint64_t>& t);

}  // namespace lemma

#endif  // LEMMA_GENERATOR_ENUMERATE_H_
