#include "ir/json.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace lemma {
namespace {

TEST(JsonWriter, NestsAndSeparates) {
  JsonWriter j;
  j.BeginObject().Key("a").Int(-3).Key("b").BeginArray().String("x").Bool(true).Null().EndArray();
  j.Key("c").BeginObject().EndObject().Key("d").Uint(18446744073709551615ull).EndObject();
  EXPECT_EQ(std::move(j).Finish(),
            "{\"a\":-3,\"b\":[\"x\",true,null],\"c\":{},\"d\":18446744073709551615}\n");
}

TEST(JsonWriter, EscapesStrings) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
}

TEST(JsonWriter, NumbersReadBackExactlyAndNonFiniteIsNull) {
  JsonWriter j;
  j.BeginArray().Double(0.1).Double(1e300).Double(-2.5).Double(3);
  j.Double(std::numeric_limits<double>::quiet_NaN()).Double(INFINITY).EndArray();
  EXPECT_EQ(std::move(j).Finish(), "[0.1,1e+300,-2.5,3,null,null]\n");
}

}  // namespace
}  // namespace lemma
