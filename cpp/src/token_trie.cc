#include "token_trie.h"

#include <algorithm>
#include <functional>

namespace formgate {

TokenTrie::TokenTrie(const std::vector<std::string>& vocab, std::vector<int32_t> ids)
    : sorted_ids_(std::move(ids)) {
  std::stable_sort(sorted_ids_.begin(), sorted_ids_.end(),
                   [&](int32_t a, int32_t b) { return vocab[a] < vocab[b]; });
  nodes_.push_back({0, 0, 0, 0, 0});
  std::vector<int32_t> path{0};  // path[d] = node at depth d on the current branch
  const std::string* prev = nullptr;
  for (int32_t q = 0; q < static_cast<int32_t>(sorted_ids_.size()); ++q) {
    const std::string& t = vocab[sorted_ids_[q]];
    size_t lcp = 0;
    if (prev) {
      while (lcp < prev->size() && lcp < t.size() && (*prev)[lcp] == t[lcp]) ++lcp;
    }
    while (path.size() > lcp + 1) {
      nodes_[path.back()].subtree_end = static_cast<int32_t>(nodes_.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < t.size(); ++d) {
      path.push_back(static_cast<int32_t>(nodes_.size()));
      nodes_.push_back({0, q, q, static_cast<int32_t>(d + 1), static_cast<uint8_t>(t[d])});
    }
    TrieNode& leaf = nodes_[path.back()];
    if (leaf.tok_end == leaf.tok_begin) leaf.tok_begin = q;
    leaf.tok_end = q + 1;
    max_depth_ = std::max(max_depth_, static_cast<int32_t>(t.size()));
    prev = &t;
  }
  while (!path.empty()) {
    nodes_[path.back()].subtree_end = static_cast<int32_t>(nodes_.size());
    path.pop_back();
  }
  int32_t n = static_cast<int32_t>(sorted_ids_.size());
  nodes_.push_back({static_cast<int32_t>(nodes_.size()) + 1, n, n, 0, 0});
  id_bits_.assign((vocab.size() + 31) / 32, 0);
  for (int32_t id : sorted_ids_) id_bits_[id >> 5] |= 1u << (id & 31);
  for (int32_t q = 0; q < n; ++q) {
    by_length_.push_back({static_cast<int32_t>(vocab[sorted_ids_[q]].size()), q});
  }
  std::sort(by_length_.begin(), by_length_.end(), std::greater<>());
  // A node without tokens of its own gets the position where its subtree's tokens start, so
  // that [tok_begin(i), tok_begin(subtree_end)) is always the subtree.
  for (int32_t i = static_cast<int32_t>(nodes_.size()) - 2; i >= 0; --i) {
    if (nodes_[i].tok_begin == nodes_[i].tok_end) {
      int32_t next = i + 1 < static_cast<int32_t>(nodes_.size()) ? nodes_[i + 1].tok_begin : n;
      nodes_[i].tok_begin = nodes_[i].tok_end = next;
    }
  }
}

std::shared_ptr<const TokenTrie::Survival> TokenTrie::SurvivalTable(
    const std::vector<int8_t>& next) const {
  // Distinct DFAs per vocabulary are few (one per shape of string body or repetition); the
  // bound only stops a stream of unusual grammars from growing the cache without limit.
  constexpr size_t kMaxCached = 256;
  {
    std::lock_guard<std::mutex> lock(survival_mu_);
    auto it = survival_.find(next);
    if (it != survival_.end()) return it->second;
  }
  const int32_t m = static_cast<int32_t>(next.size() / 256);
  const int32_t n = NumNodes();
  const bool marked = std::any_of(next.begin(), next.end(), [](int8_t t) { return t >= 8; });
  auto table = std::make_shared<Survival>();
  table->states = m;
  table->bits.assign(nodes_.size(), 0);
  if (marked) table->steps.assign(nodes_.size() * m, 0);
  // Reverse preorder visits a node after its whole subtree. children_ok[d] gathers, for the
  // nodes of depth d seen since their parent was last visited, the states (after the parent's
  // byte) from which all of them survive; children_steps[d] their most marked transitions.
  std::vector<uint8_t> children_ok(max_depth_ + 2, 0xFF);
  std::vector<uint8_t> children_steps(marked ? (max_depth_ + 2) * 8 : 0, 0);
  for (int32_t i = n - 1; i >= 1; --i) {
    const TrieNode& node = nodes_[i];
    const int32_t d = node.depth;
    uint8_t below = children_ok[d + 1];
    children_ok[d + 1] = 0xFF;
    uint8_t here = 0;
    for (int32_t q = 0; q < m; ++q) {
      int32_t t = next[q * 256 + node.byte];
      if (t < 0) continue;
      int32_t step = t >= 8;
      t &= 7;
      if (!((below >> t) & 1)) continue;
      here |= static_cast<uint8_t>(1u << q);
      if (marked) {
        uint8_t& mine = table->steps[static_cast<size_t>(i) * m + q];
        mine = static_cast<uint8_t>(std::min(255, step + children_steps[(d + 1) * 8 + t]));
        uint8_t& up = children_steps[d * 8 + q];
        up = std::max(up, mine);
      }
    }
    if (marked) std::fill_n(children_steps.begin() + (d + 1) * 8, 8, 0);
    table->bits[i] = here;
    children_ok[d] &= here;
  }
  std::lock_guard<std::mutex> lock(survival_mu_);
  if (survival_.size() < kMaxCached) survival_.emplace(next, table);
  return table;
}

}  // namespace formgate
