#include "grammar_inliner.h"

#include <algorithm>

namespace formgate {

namespace {

class Inliner {
 public:
  explicit Inliner(const Grammar& g) : g_(g) {
    size_t n = g.rules.size();
    recursive_.assign(n, false);
    std::vector<std::vector<int32_t>> calls(n);
    for (size_t r = 0; r < n; ++r) CollectRefs(g.rules[r].body, &calls[r]);
    // r is recursive iff r reaches itself; grammars are small enough for a search per rule.
    for (size_t r = 0; r < n; ++r) {
      std::vector<bool> seen(n, false);
      std::vector<int32_t> work(calls[r]);
      while (!work.empty() && !recursive_[r]) {
        int32_t x = work.back();
        work.pop_back();
        if (x == static_cast<int32_t>(r)) recursive_[r] = true;
        if (seen[x]) continue;
        seen[x] = true;
        work.insert(work.end(), calls[x].begin(), calls[x].end());
      }
    }
    inlined_.assign(n, -1);
    size_.assign(n, -1);
    out_.rules = g.rules;
    out_.root = g.root;
  }

  Grammar Run() {
    for (size_t r = 0; r < g_.rules.size(); ++r) {
      out_.rules[r].body = Body(static_cast<int32_t>(r));
    }
    return DropUnreachable();
  }

 private:
  void CollectRefs(int32_t e, std::vector<int32_t>* out) const {
    const Expr& x = g_.exprs[e];
    if (x.kind == ExprKind::kRuleRef) out->push_back(x.rule);
    for (int32_t c : x.children) CollectRefs(c, out);
  }

  // The rule's body in out_, with small non-recursive callees inlined (memoised).
  int32_t Body(int32_t r) {
    if (inlined_[r] >= 0) return inlined_[r];
    int64_t size = 0;
    inlined_[r] = Rewrite(g_.rules[r].body, &size);
    size_[r] = size;
    return inlined_[r];
  }

  int32_t Rewrite(int32_t e, int64_t* size) {
    const Expr& x = g_.exprs[e];
    if (x.kind == ExprKind::kRuleRef && !recursive_[x.rule]) {
      int32_t body = Body(x.rule);
      if (size_[x.rule] <= kMaxInlinedSize) {
        *size += size_[x.rule];
        return body;
      }
    }
    Expr copy = x;
    int64_t own = 1 + static_cast<int64_t>(x.bytes.size()) + 2 * static_cast<int64_t>(x.ranges.size());
    for (int32_t& c : copy.children) {
      int64_t child = 0;
      c = Rewrite(c, &child);
      own += x.kind == ExprKind::kRepeat
                 ? child * std::max<int64_t>(1, std::min<int64_t>(x.max < 0 ? x.min + 1 : x.max, 8))
                 : child;
    }
    *size += own;
    return out_.AddExpr(std::move(copy));
  }

  Grammar DropUnreachable() {
    size_t n = out_.rules.size();
    std::vector<int32_t> new_id(n, -1);
    std::vector<int32_t> order{out_.root};
    new_id[out_.root] = 0;
    for (size_t i = 0; i < order.size(); ++i) {
      std::vector<int32_t> refs;
      CollectOutRefs(out_.rules[order[i]].body, &refs);
      for (int32_t x : refs) {
        if (new_id[x] < 0) {
          new_id[x] = static_cast<int32_t>(order.size());
          order.push_back(x);
        }
      }
    }
    Grammar result;
    result.exprs = std::move(out_.exprs);
    for (Expr& x : result.exprs) {
      if (x.kind == ExprKind::kRuleRef) x.rule = new_id[x.rule];
    }
    for (int32_t r : order) result.rules.push_back(out_.rules[r]);
    result.root = 0;
    return result;
  }

  void CollectOutRefs(int32_t e, std::vector<int32_t>* out) const {
    const Expr& x = out_.exprs[e];
    if (x.kind == ExprKind::kRuleRef) out->push_back(x.rule);
    for (int32_t c : x.children) CollectOutRefs(c, out);
  }

  const Grammar& g_;
  std::vector<bool> recursive_;
  std::vector<int32_t> inlined_;
  std::vector<int64_t> size_;
  Grammar out_;
};

}  // namespace

Grammar InlineRules(const Grammar& g) { return Inliner(g).Run(); }

}  // namespace formgate
