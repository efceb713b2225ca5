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
  ids_ascending_ = sorted_ids_;
  std::sort(ids_ascending_.begin(), ids_ascending_.end());
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

}  // namespace formgate
