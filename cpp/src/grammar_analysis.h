// Checks and simplifications every frontend runs on its IR before compilation:
// drops alternatives that derive no finite string (an empty language at the root is an error),
// rejects left recursion naming the rule cycle, and removes rules unreachable from the root.
#ifndef FORMGATE_GRAMMAR_ANALYSIS_H_
#define FORMGATE_GRAMMAR_ANALYSIS_H_

#include <vector>

#include "formgate/grammar.h"
#include "source_text.h"

namespace formgate {

Grammar Simplify(const Grammar& g, const SourceText& src);

// nullable[r]: rule r derives the empty string.
std::vector<bool> NullableRules(const Grammar& g);
bool IsNullable(const Grammar& g, int32_t expr, const std::vector<bool>& nullable_rules);

}  // namespace formgate

#endif  // FORMGATE_GRAMMAR_ANALYSIS_H_
