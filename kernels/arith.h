#ifndef LEMMA_KERNELS_ARITH_H_
#define LEMMA_KERNELS_ARITH_H_

// Arithmetic domains of the reference evaluator. Each domain is a struct with
// `using T = <element type>;` and static functions for every scalar operation
// an op's meaning needs, so that one kernel template defines an op in all of
// them. F64 and F32 compute the real functions in double and float; ModP
// computes modulo the Mersenne prime p = 2^61 - 1, where linear algebra is
// exact and each non-linear function has a fixed stand-in.
//
// THE STAND-INS, written down here and nowhere else. s(x) is the signed
// representative of x in (-p/2, p/2].
//
//   function       F64 / F32                 ModP
//   -------------  ------------------------  -----------------------------------------
//   relu(x)        max(x, 0)                 x if s(x) > 0, else 0
//   max(a, b)      the larger                the one with the larger s() (a on a tie)
//   exp(x)         e^x                       x^2 + 1          never 0 (1)
//   sigmoid(x)     1 / (1 + e^-x)            inv(x^2 + 2)     x^2 + 2 never 0 (2)
//   tanh(x)        tanh(x)                   x^3 + 3x
//   gelu(x)        x * Phi(x), erf form      x^4 + x
//   rsqrt(v)       1 / sqrt(v)               inv(v^2 + 1)     v^2 + 1 never 0 (1)
//   inv(x)         1 / x                     x^(p-2), the modular inverse; inv(0) = 0
//   DivInt(x, n)   x / n                     x * inv(n), exact: means, average pools,
//                                            const_pool's 1/(kh*kw)
//   FromDouble(v)  v                         v mod p; an error unless v is an integer
//   Epsilon(e)     e                         0: epsilon parameters are ignored
//
//   (1) -1 is a quadratic non-residue, as p = 3 mod 4.
//   (2) -2 is a quadratic non-residue, as p = 7 mod 8.
//
// relu and max act on s(), so relu(relu x) = relu x and relu commutes with
// concat, split and max pooling exactly as over the reals. Softmax subtracts the
// maximum before exp only in the ordered domains (kExact == false): the ModP
// stand-in of exp is not shift-invariant, so there softmax is exp(x) / sum exp(x)
// as written. The stand-ins are chosen to be non-linear, distinct from one
// another and never to divide by zero; they satisfy no other identity of the
// real functions.

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/strings.h"

namespace lemma {

/// Real arithmetic in a floating-point type F (double or float); every
/// operation computes in F.
template <typename F>
struct FloatDomain {
  using T = F;
  /// Whether the arithmetic is exact (no rounding).
  static constexpr bool kExact = false;

  /// Constants; an integer rounded to T.
  static T Zero() { return T(0); }
  static T One() { return T(1); }
  static T FromInt(int64_t v) { return static_cast<T>(v); }
  /// `v` rounded to T; never fails.
  static absl::StatusOr<T> FromDouble(double v) { return static_cast<T>(v); }
  /// An epsilon parameter (batchnorm, layernorm), added to a variance.
  static T Epsilon(double e) { return static_cast<T>(e); }
  /// A value for display and checksums.
  static double ToDouble(T x) { return static_cast<double>(x); }

  /// Field operations of T, rounded as T rounds.
  static T Add(T a, T b) { return a + b; }
  static T Sub(T a, T b) { return a - b; }
  static T Mul(T a, T b) { return a * b; }
  static T Neg(T a) { return -a; }
  /// `x` divided by a positive count `n`.
  static T DivInt(T x, int64_t n) { return x / static_cast<T>(n); }
  static T Inv(T x) { return T(1) / x; }
  static T Max(T a, T b) { return a < b ? b : a; }

  /// The real functions, computed in T.
  static T Relu(T x) { return x < T(0) ? T(0) : x; }
  static T Sigmoid(T x) { return T(1) / (T(1) + std::exp(-x)); }
  static T Tanh(T x) { return std::tanh(x); }
  static T Gelu(T x) { return T(0.5) * x * (T(1) + std::erf(x / std::numbers::sqrt2_v<T>)); }
  static T Exp(T x) { return std::exp(x); }
  static T Rsqrt(T x) { return T(1) / std::sqrt(x); }
};

/// Arithmetic in double.
struct F64 : FloatDomain<double> {
  static constexpr std::string_view kName = "f64";
};

/// Arithmetic in float: every operation rounds to float.
struct F32 : FloatDomain<float> {
  static constexpr std::string_view kName = "f32";
};

/// Arithmetic modulo the prime p = 2^61 - 1. Values are kept reduced, in
/// [0, p). Non-linear functions are the stand-ins of the table above.
struct ModP {
  using T = uint64_t;
  static constexpr std::string_view kName = "modp";
  static constexpr bool kExact = true;
  /// The modulus, 2^61 - 1: a Mersenne prime with p = 3 mod 4 (and 7 mod 8).
  static constexpr uint64_t kP = (uint64_t{1} << 61) - 1;

  /// Constants.
  static T Zero() { return 0; }
  static T One() { return 1; }
  /// `v` mod p, negative values included (-1 is p - 1).
  static T FromInt(int64_t v) {
    const int64_t r = v % static_cast<int64_t>(kP);
    return static_cast<T>(r < 0 ? r + static_cast<int64_t>(kP) : r);
  }
  /// An integral `v` mod p; an error for a fractional, infinite or huge value.
  static absl::StatusOr<T> FromDouble(double v) {
    if (!std::isfinite(v) || v != std::trunc(v) || std::fabs(v) >= 0x1p62) {
      return absl::InvalidArgumentError(
          StrCat("the constant ", v,
                 " is not an integer: modular arithmetic takes integral constants only"));
    }
    return FromInt(static_cast<int64_t>(v));
  }
  /// Epsilon parameters are ignored: always 0.
  static T Epsilon(double) { return 0; }
  /// The signed representative s(x) in (-p/2, p/2].
  static int64_t Signed(T x) {
    return x > kP / 2 ? static_cast<int64_t>(x) - static_cast<int64_t>(kP)
                      : static_cast<int64_t>(x);
  }
  /// s(x) as a double, for display and checksums.
  static double ToDouble(T x) { return static_cast<double>(Signed(x)); }

  /// Field operations; arguments must be reduced (below p), results are.
  static T Add(T a, T b) { return Fold(a + b); }
  static T Sub(T a, T b) { return Fold(a + kP - b); }
  static T Mul(T a, T b) { return Reduce(static_cast<unsigned __int128>(a) * b); }
  static T Neg(T a) { return a == 0 ? 0 : kP - a; }
  /// `x` times the inverse of a positive count `n`.
  static T DivInt(T x, int64_t n) { return Mul(x, Inv(FromInt(n))); }
  /// The modular inverse x^(p-2); inv(0) = 0.
  static T Inv(T x) { return Pow(x, kP - 2); }
  /// The one of `a`, `b` with the larger s(); `a` on a tie.
  static T Max(T a, T b) { return Signed(a) < Signed(b) ? b : a; }

  /// The stand-ins of the table above.
  static T Relu(T x) { return Signed(x) > 0 ? x : 0; }
  static T Sigmoid(T x) { return Inv(Add(Mul(x, x), 2)); }
  static T Tanh(T x) { return Add(Mul(Mul(x, x), x), Mul(3, x)); }
  static T Gelu(T x) {
    const T x2 = Mul(x, x);
    return Add(Mul(x2, x2), x);
  }
  static T Exp(T x) { return Add(Mul(x, x), 1); }
  static T Rsqrt(T x) { return Inv(Add(Mul(x, x), 1)); }

  /// `base` to the power `e`.
  static T Pow(T base, uint64_t e) {
    T result = 1;
    for (; e != 0; e >>= 1) {
      if (e & 1) result = Mul(result, base);
      base = Mul(base, base);
    }
    return result;
  }

 private:
  // x < 2p reduced to [0, p).
  static T Fold(T x) { return x >= kP ? x - kP : x; }
  // x < 2^122 reduced to [0, p) using 2^61 = 1 (mod p).
  static T Reduce(unsigned __int128 x) {
    const T folded = static_cast<T>(x & kP) + static_cast<T>(x >> 61);  // <= 2p
    return Fold(Fold(folded));
  }
};

}  // namespace lemma

#endif  // LEMMA_KERNELS_ARITH_H_
