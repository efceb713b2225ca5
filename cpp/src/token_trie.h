// The text tokens of a vocabulary as a byte trie laid out flat in DFS preorder.
//
// Tokens are sorted by their bytes; node i's own tokens are sorted positions
// [tok_begin, tok_end) and its whole subtree is [tok_begin, nodes[subtree_end].tok_begin), so a
// walk that rejects node i skips exactly the tokens extending it by jumping to subtree_end.
// (XGrammar builds these ranges with a substring test and so drops valid tokens; a prefix trie
// cannot.) Node 0 is the root (empty prefix); a sentinel node closes the array.
#ifndef FORMGATE_TOKEN_TRIE_H_
#define FORMGATE_TOKEN_TRIE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace formgate {

struct TrieNode {
  int32_t subtree_end;  // first node after this node's subtree
  int32_t tok_begin;    // sorted positions of tokens ending exactly here
  int32_t tok_end;
  int32_t depth;        // bytes from the root
  uint8_t byte;         // the last byte of this prefix
};

class TokenTrie {
 public:
  // `ids` are the token ids to include; vocab[id] their bytes (non-empty).
  TokenTrie(const std::vector<std::string>& vocab, std::vector<int32_t> ids);

  int32_t NumNodes() const { return static_cast<int32_t>(nodes_.size()) - 1; }
  const TrieNode& Node(int32_t i) const { return nodes_[i]; }
  int32_t NumTokens() const { return static_cast<int32_t>(sorted_ids_.size()); }
  // Token id at sorted position q.
  int32_t TokenAt(int32_t q) const { return sorted_ids_[q]; }
  const std::vector<int32_t>& SortedIds() const { return sorted_ids_; }
  int32_t MaxDepth() const { return max_depth_; }
  // The text token ids as a bitset of (vocab.size() + 31) / 32 words.
  const std::vector<uint32_t>& IdBits() const { return id_bits_; }
  // (byte length, sorted position) of every token, longest first.
  const std::vector<std::pair<int32_t, int32_t>>& ByLength() const { return by_length_; }
  // How a small DFA fares on every subtree of the trie; see SurvivalTable.
  struct Survival {
    // bits[i], bit q: reading node i's byte in state q, every token of node i's subtree keeps
    // the DFA alive.
    std::vector<uint8_t> bits;
    // steps[i * states + q]: the most marked transitions on any such token (saturating at
    // 255); empty when the DFA marks none.
    std::vector<uint8_t> steps;
    int32_t states = 0;
  };
  // `next[q * 256 + b]` is the state after byte b from q (at most 8 states), -1 for dead, or
  // 8 + the state for a marked transition (one that completes an iteration of a counted
  // repetition). A walk whose stack top stays inside such a DFA can take a whole subtree from
  // one lookup. Computed once per distinct DFA and shared by every grammar compiled for this
  // vocabulary (JSON string bodies recur in all of them); thread-safe.
  std::shared_ptr<const Survival> SurvivalTable(const std::vector<int8_t>& next) const;

  size_t MemoryBytes() const {
    return nodes_.size() * sizeof(TrieNode) + sorted_ids_.size() * sizeof(int32_t);
  }

 private:
  std::vector<TrieNode> nodes_;
  std::vector<int32_t> sorted_ids_;
  std::vector<uint32_t> id_bits_;
  std::vector<std::pair<int32_t, int32_t>> by_length_;
  int32_t max_depth_ = 0;
  mutable std::mutex survival_mu_;
  mutable std::map<std::vector<int8_t>, std::shared_ptr<const Survival>> survival_;
};

}  // namespace formgate

#endif  // FORMGATE_TOKEN_TRIE_H_
