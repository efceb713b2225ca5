#include "grammar_analysis.h"

#include <algorithm>
#include <string>

namespace formgate {

namespace {

void CollectRefs(const Grammar& g, int32_t e, std::vector<int32_t>* out) {
  const Expr& x = g.exprs[e];
  if (x.kind == ExprKind::kRuleRef) out->push_back(x.rule);
  for (int32_t c : x.children) CollectRefs(g, c, out);
}

// The least set of rules whose body satisfies holds(body, set), by a worklist: a rule is
// re-examined only when a rule it calls joins the set. (Sweeping all rules until nothing changes
// is quadratic on a chain r0 -> r1 -> ... of 20,000 rules.)
template <typename Holds>
std::vector<bool> LeastFixpoint(const Grammar& g, Holds holds) {
  size_t n = g.rules.size();
  std::vector<std::vector<int32_t>> callers(n);
  for (size_t r = 0; r < n; ++r) {
    std::vector<int32_t> refs;
    CollectRefs(g, g.rules[r].body, &refs);
    for (int32_t x : refs) callers[x].push_back(static_cast<int32_t>(r));
  }
  std::vector<bool> in_set(n, false), queued(n, true);
  std::vector<int32_t> work(n);
  for (size_t r = 0; r < n; ++r) work[r] = static_cast<int32_t>(n - 1 - r);
  while (!work.empty()) {
    int32_t r = work.back();
    work.pop_back();
    queued[r] = false;
    if (in_set[r] || !holds(g, g.rules[r].body, in_set)) continue;
    in_set[r] = true;
    for (int32_t c : callers[r]) {
      if (!in_set[c] && !queued[c]) {
        queued[c] = true;
        work.push_back(c);
      }
    }
  }
  return in_set;
}

bool IsProductive(const Grammar& g, int32_t e, const std::vector<bool>& productive_rules) {
  const Expr& x = g.exprs[e];
  switch (x.kind) {
    case ExprKind::kEmpty:
    case ExprKind::kBytes:
    case ExprKind::kToken:
      return true;
    case ExprKind::kCharClass:
      return !x.ranges.empty();
    case ExprKind::kRuleRef:
      return productive_rules[x.rule];
    case ExprKind::kSequence:
      for (int32_t c : x.children) {
        if (!IsProductive(g, c, productive_rules)) return false;
      }
      return true;
    case ExprKind::kChoice:
      for (int32_t c : x.children) {
        if (IsProductive(g, c, productive_rules)) return true;
      }
      return false;
    case ExprKind::kRepeat:
      return x.min == 0 || IsProductive(g, x.children[0], productive_rules);
  }
  return false;
}

std::vector<bool> ProductiveRules(const Grammar& g) {
  return LeastFixpoint(g, IsProductive);
}

// Copies expression e into `out`, dropping unproductive parts. Returns -1 if e is unproductive.
int32_t CopyProductive(const Grammar& g, int32_t e, const std::vector<bool>& productive,
                       Grammar* out) {
  if (!IsProductive(g, e, productive)) return -1;
  Expr x = g.exprs[e];
  if (x.kind == ExprKind::kRepeat) {
    int32_t child = CopyProductive(g, x.children[0], productive, out);
    if (child < 0 || x.max == 0) {
      Expr empty;
      empty.pos = x.pos;
      return out->AddExpr(std::move(empty));
    }
    x.children = {child};
  } else if (x.kind == ExprKind::kSequence || x.kind == ExprKind::kChoice) {
    std::vector<int32_t> kids;
    for (int32_t c : x.children) {
      int32_t k = CopyProductive(g, c, productive, out);
      if (k >= 0) kids.push_back(k);
    }
    if (kids.size() == 1) return kids[0];
    x.children = std::move(kids);
  }
  return out->AddExpr(std::move(x));
}

void FirstRefs(const Grammar& g, int32_t e, const std::vector<bool>& nullable,
               std::vector<int32_t>* refs) {
  const Expr& x = g.exprs[e];
  switch (x.kind) {
    case ExprKind::kRuleRef:
      refs->push_back(x.rule);
      break;
    case ExprKind::kSequence:
      for (int32_t c : x.children) {
        FirstRefs(g, c, nullable, refs);
        if (!IsNullable(g, c, nullable)) break;
      }
      break;
    case ExprKind::kChoice:
      for (int32_t c : x.children) FirstRefs(g, c, nullable, refs);
      break;
    case ExprKind::kRepeat:
      if (x.max != 0) FirstRefs(g, x.children[0], nullable, refs);
      break;
    default:
      break;
  }
}

void CheckLeftRecursion(const Grammar& g, const SourceText& src) {
  std::vector<bool> nullable = NullableRules(g);
  size_t n = g.rules.size();
  std::vector<std::vector<int32_t>> first(n);
  for (size_t r = 0; r < n; ++r) FirstRefs(g, g.rules[r].body, nullable, &first[r]);
  // Iterative DFS (grammars can be deep); colour 1 = on the current path.
  std::vector<int> colour(n, 0);
  for (size_t start = 0; start < n; ++start) {
    if (colour[start]) continue;
    std::vector<std::pair<int32_t, size_t>> stack{{static_cast<int32_t>(start), 0}};
    colour[start] = 1;
    while (!stack.empty()) {
      auto& [r, i] = stack.back();
      if (i < first[r].size()) {
        int32_t next = first[r][i++];
        if (colour[next] == 1) {
          std::string cycle;
          size_t k = 0;
          while (stack[k].first != next) ++k;
          for (; k < stack.size(); ++k) cycle += g.rules[stack[k].first].name + " -> ";
          cycle += g.rules[next].name;
          src.Fail("left recursion: " + cycle + " (rewrite it with repetition, e.g. "
                   "a ::= b (\"op\" b)*)",
                   g.rules[next].pos);
        }
        if (colour[next] == 0) {
          colour[next] = 1;
          stack.push_back({next, 0});
        }
      } else {
        colour[r] = 2;
        stack.pop_back();
      }
    }
  }
}

void MarkReachable(const Grammar& g, int32_t e, std::vector<bool>* reached,
                   std::vector<int32_t>* work) {
  const Expr& x = g.exprs[e];
  if (x.kind == ExprKind::kRuleRef && !(*reached)[x.rule]) {
    (*reached)[x.rule] = true;
    work->push_back(x.rule);
  }
  for (int32_t c : x.children) MarkReachable(g, c, reached, work);
}

}  // namespace

bool IsNullable(const Grammar& g, int32_t e, const std::vector<bool>& nullable_rules) {
  const Expr& x = g.exprs[e];
  switch (x.kind) {
    case ExprKind::kEmpty:
      return true;
    case ExprKind::kBytes:
      return x.bytes.empty();
    case ExprKind::kCharClass:
    case ExprKind::kToken:
      return false;
    case ExprKind::kRuleRef:
      return nullable_rules[x.rule];
    case ExprKind::kSequence:
      for (int32_t c : x.children) {
        if (!IsNullable(g, c, nullable_rules)) return false;
      }
      return true;
    case ExprKind::kChoice:
      for (int32_t c : x.children) {
        if (IsNullable(g, c, nullable_rules)) return true;
      }
      return false;
    case ExprKind::kRepeat:
      return x.min == 0 || IsNullable(g, x.children[0], nullable_rules);
  }
  return false;
}

std::vector<bool> NullableRules(const Grammar& g) { return LeastFixpoint(g, IsNullable); }

Grammar Simplify(const Grammar& g, const SourceText& src) {
  // Left recursion first: `root ::= root "x"` is also an empty language, but the recursion is
  // the mistake to point at.
  CheckLeftRecursion(g, src);
  std::vector<bool> productive = ProductiveRules(g);
  if (!productive[g.root]) {
    src.Fail("empty language: rule '" + g.rules[g.root].name +
                 "' derives no finite string (every alternative recurses forever or uses such a "
                 "rule)",
             g.rules[g.root].pos);
  }
  // Keep only rules reachable from the root after pruning, renumbered in reachability order.
  Grammar pruned;
  pruned.rules = g.rules;
  for (size_t r = 0; r < g.rules.size(); ++r) {
    pruned.rules[r].body = productive[r] ? CopyProductive(g, g.rules[r].body, productive, &pruned)
                                         : -1;
  }
  pruned.root = g.root;
  std::vector<bool> reached(g.rules.size(), false);
  std::vector<int32_t> order{g.root};
  reached[g.root] = true;
  for (size_t i = 0; i < order.size(); ++i) {
    MarkReachable(pruned, pruned.rules[order[i]].body, &reached, &order);
  }
  std::vector<int32_t> new_id(g.rules.size(), -1);
  Grammar out;
  for (size_t i = 0; i < order.size(); ++i) new_id[order[i]] = static_cast<int32_t>(i);
  out.exprs = std::move(pruned.exprs);
  for (Expr& x : out.exprs) {
    if (x.kind == ExprKind::kRuleRef) x.rule = new_id[x.rule];
  }
  for (int32_t r : order) out.rules.push_back(pruned.rules[r]);
  out.root = 0;
  return out;
}

}  // namespace formgate
