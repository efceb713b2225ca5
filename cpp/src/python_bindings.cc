// pybind11 module formgate._core. The only place that knows about Python: C++ exceptions become
// formgate.GrammarError / LimitError (with line, column, cause) or ValueError, and every call that
// may take long (compiling, filling masks) releases the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <exception>
#include <thread>

#include "automaton.h"
#include "formgate/bitmask_apply.h"
#include "formgate/compiler.h"
#include "mask_cache.h"
#include "formgate/error.h"
#include "formgate/grammar.h"
#include "formgate/matcher.h"
#include "formgate/tokenizer_info.h"
#include "utf8.h"

namespace py = pybind11;
using namespace formgate;

namespace {

void RaiseGrammarError(const char* cls_name, const GrammarError& e) {
  py::object cls = py::module_::import("formgate.errors").attr(cls_name);
  // Messages quote grammar text, which may hold arbitrary bytes: never fail on decoding them.
  auto text = [](const std::string& s) {
    return py::reinterpret_steal<py::str>(PyUnicode_DecodeUTF8(s.data(), s.size(), "replace"));
  };
  py::object exc = cls(text(e.what()), e.line(), e.column(), text(e.cause()));
  PyErr_SetObject(cls.ptr(), exc.ptr());
}

// Grammar text as UTF-8. A str holding a lone surrogate has no UTF-8 form: say where it is
// instead of letting pybind11 raise an opaque cast error.
std::string GrammarText(const py::str& s) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(s.ptr(), &size);
  if (data) return std::string(data, static_cast<size_t>(size));
  PyErr_Clear();
  Py_ssize_t n = PyUnicode_GetLength(s.ptr());
  int line = 1, column = 1;
  for (Py_ssize_t i = 0; i < n; ++i) {
    Py_UCS4 c = PyUnicode_ReadChar(s.ptr(), i);
    if (c >= 0xD800 && c <= 0xDFFF) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(c));
      throw GrammarError(std::string("grammar text holds a lone surrogate U+") + hex +
                             ", which is not a Unicode character (no UTF-8 form)",
                         line, column, "");
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  throw GrammarError("grammar text cannot be encoded as UTF-8", 0, 0, "");
}

Grammar ToGrammar(const py::object& g, const std::string& root) {
  if (py::isinstance<Grammar>(g)) return g.cast<Grammar>();
  if (py::isinstance<py::str>(g)) {
    std::string text = GrammarText(g.cast<py::str>());
    py::gil_scoped_release release;
    return Grammar::FromEbnf(text, root);
  }
  throw py::type_error("grammar must be a str (EBNF text) or a formgate.Grammar");
}

uint32_t* WordsAt(uintptr_t ptr) { return reinterpret_cast<uint32_t*>(ptr); }

// Fills rows[i] of the bitmask at `base` for matchers[i], on up to `threads` threads.
void BatchFill(const std::vector<const GrammarMatcher*>& matchers, uintptr_t base,
               int64_t row_words, const std::vector<int64_t>& rows, int threads) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto worker = [&]() {
    for (size_t i = next++; i < matchers.size(); i = next++) {
      try {
        matchers[i]->FillNextTokenBitmask(WordsAt(base) + rows[i] * row_words);
      } catch (...) {
        if (!failed.exchange(true)) error = std::current_exception();
      }
    }
  };
  int n = std::max(1, std::min<int>(threads, static_cast<int>(matchers.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "formgate compiled core (use the formgate package, not this module directly)";

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const LimitError& e) {
      RaiseGrammarError("LimitError", e);
    } catch (const GrammarError& e) {
      RaiseGrammarError("GrammarError", e);
    }
  });

  m.attr("MAX_REPETITION_BOUND") = kMaxRepetitionBound;
  m.attr("MAX_NESTING_DEPTH") = kMaxNestingDepth;

  py::class_<Grammar>(m, "Grammar", R"doc(A grammar in formgate's IR.

Example:
    >>> import formgate
    >>> g = formgate.Grammar.from_ebnf('root ::= "a" [0-9]+')
    >>> print(g)
    root ::= "a" [0-9]+
)doc")
      .def_static(
          "from_ebnf",
          [](const py::str& text_object, const std::string& root) {
            std::string text = GrammarText(text_object);
            py::gil_scoped_release release;
            return Grammar::FromEbnf(text, root);
          },
          py::arg("text"), py::arg("root") = "root",
          "Parse GBNF/EBNF text (see docs/ebnf.md). Raises GrammarError with the position.")
      .def("__str__", &Grammar::ToString)
      .def("__repr__",
           [](const Grammar& g) {
             return "<formgate.Grammar with " + std::to_string(g.rules.size()) + " rules>";
           })
      .def_property_readonly("num_rules",
                             [](const Grammar& g) { return static_cast<int>(g.rules.size()); })
      .def_property_readonly("root_name",
                             [](const Grammar& g) { return g.rules[g.root].name; })
      .def_property_readonly(
          "special_tokens",
          [](const Grammar& g) {
            std::vector<std::string> out;
            for (const Expr& x : g.exprs) {
              if (x.kind != ExprKind::kToken) continue;
              std::string t = SpecialTokenTerminal(x);
              if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
            }
            return out;
          },
          "The special-token terminals the grammar uses (as written in EBNF), each once.");

  py::class_<TokenizerInfo, std::shared_ptr<TokenizerInfo>>(m, "TokenizerInfo")
      .def(py::init([](std::vector<std::string> vocab, std::optional<int32_t> vocab_size,
                       std::optional<std::vector<int32_t>> stop,
                       std::optional<std::vector<int32_t>> special,
                       std::optional<std::map<std::string, int32_t>> names) {
             std::vector<std::pair<std::string, int32_t>> named;
             if (names) named.assign(names->begin(), names->end());
             return std::make_shared<TokenizerInfo>(
                 std::move(vocab), vocab_size.value_or(-1),
                 stop.value_or(std::vector<int32_t>{}), special.value_or(std::vector<int32_t>{}),
                 std::move(named));
           }),
           py::arg("encoded_vocab"), py::kw_only(), py::arg("vocab_size") = py::none(),
           py::arg("stop_token_ids") = py::none(), py::arg("special_token_ids") = py::none(),
           py::arg("special_tokens") = py::none())
      .def_property_readonly("vocab_size", &TokenizerInfo::VocabSize)
      .def_property_readonly("decoded_vocab",
                             [](const TokenizerInfo& t) {
                               py::list out;
                               for (int32_t id = 0; id < t.VocabLength(); ++id) {
                                 out.append(py::bytes(t.DecodedToken(id)));
                               }
                               return out;
                             })
      .def_property_readonly("special_tokens",
                             [](const TokenizerInfo& t) {
                               // A fresh dict each time: the mapping cannot be changed.
                               py::dict out;
                               for (const auto& [name, id] : t.SpecialTokens()) out[py::str(name)] = id;
                               return out;
                             })
      .def_property_readonly("stop_token_ids", &TokenizerInfo::StopTokenIds)
      .def_property_readonly("special_token_ids", &TokenizerInfo::SpecialTokenIds);

  py::class_<CompiledGrammar, std::shared_ptr<CompiledGrammar>>(m, "CompiledGrammar",
                                                                "An immutable compiled grammar.")
      .def_property_readonly("grammar", &CompiledGrammar::GetGrammar)
      .def_property_readonly("tokenizer_info",
                             [](const CompiledGrammar& c) {
                               return std::const_pointer_cast<TokenizerInfo>(c.Tokenizer());
                             })
      .def_property_readonly("memory_size_bytes", &CompiledGrammar::MemoryBytes,
                             "Bytes held now; grows as matchers reach new automaton states.")
      .def(
          "precompute",
          [](const CompiledGrammar& c) {
            py::gil_scoped_release release;
            c.Precompute();
          },
          "Compute every state's token precheck now (otherwise each is computed the first time "
          "a matcher reaches its state), so that no later mask pays for one.")
      .def_property_readonly(
          "stats",
          [](const CompiledGrammar& c) {
            const Automaton& a = c.GetAutomaton();
            int32_t scannable = 0;
            for (int32_t s = 0; s < a.NumStates(); ++s) scannable += a.HasBytes(s);
            py::dict d;
            d["rules"] = a.NumRules();
            d["states"] = a.NumStates();
            d["scannable_states"] = scannable;
            d["automaton_bytes"] = a.MemoryBytes();
            d["mask_cache_bytes"] = c.Masks().MemoryBytes();
            d["prechecks_computed"] = c.Masks().NumComputed();
            return d;
          },
          "Sizes of the compiled automaton and mask cache.")
      .def("_describe_automaton",
           [](const CompiledGrammar& c) { return c.GetAutomaton().Describe(); });

  py::class_<GrammarCompiler>(m, "GrammarCompiler", R"doc(Compiles grammars for one vocabulary.

Example:
    >>> import formgate
    >>> info = formgate.TokenizerInfo([b"a", b"b", b"ab", b"</s>"], stop_token_ids=[3])
    >>> compiled = formgate.GrammarCompiler(info).compile_grammar('root ::= ("a" | "b")+')
    >>> compiled.memory_size_bytes > 0
    True
)doc")
      .def(py::init([](std::shared_ptr<TokenizerInfo> t, int max_threads, bool cache_enabled,
                       int64_t cache_limit_bytes) {
             return std::make_unique<GrammarCompiler>(
                 std::move(t), max_threads,
                 cache_enabled ? (cache_limit_bytes < 0 ? GrammarCompiler::kDefaultCacheLimitBytes
                                                        : cache_limit_bytes)
                               : 0);
           }),
           py::arg("tokenizer_info"), py::arg("max_threads") = 8, py::arg("cache_enabled") = true,
           py::arg("cache_limit_bytes") = -1,
           "Compiled grammars are cached by normalised text, bounded by cache_limit_bytes "
           "(default 256 MiB; least recently used evicted first).")
      .def_property_readonly("tokenizer_info",
                             [](const GrammarCompiler& c) {
                               return std::const_pointer_cast<TokenizerInfo>(c.Tokenizer());
                             })
      .def("clear_cache", &GrammarCompiler::ClearCache)
      .def_property_readonly("cache_size_bytes", &GrammarCompiler::CacheSizeBytes)
      .def(
          "compile_grammar",
          [](const GrammarCompiler& c, const py::object& grammar, const std::string& root) {
            Grammar g = ToGrammar(grammar, root);
            py::gil_scoped_release release;
            return std::const_pointer_cast<CompiledGrammar>(c.Compile(g));
          },
          py::arg("grammar"), py::arg("root") = "root",
          "Compile EBNF text or a Grammar. Releases the GIL while compiling.")
      .def_property_readonly("max_threads", &GrammarCompiler::MaxThreads);

  py::class_<GrammarMatcher>(m, "GrammarMatcher")
      .def(py::init([](std::shared_ptr<CompiledGrammar> g, int32_t max_rollback_tokens) {
             return GrammarMatcher(std::move(g), max_rollback_tokens);
           }),
           py::arg("compiled_grammar"), py::arg("max_rollback_tokens") = -1)
      .def(py::init<const GrammarMatcher&>(), py::arg("other"))
      .def("accept_token", &GrammarMatcher::AcceptToken, py::arg("token_id"),
           "Advance by one token; False (state unchanged) if the grammar rejects it.")
      .def(
          "accept_string",
          [](GrammarMatcher& m, const py::object& s) {
            std::string bytes = py::isinstance<py::bytes>(s) ? std::string(s.cast<py::bytes>())
                                                             : s.cast<std::string>();
            return m.AcceptBytes(bytes);
          },
          py::arg("text"), "Advance by a str or bytes, all or nothing; one rollback step.")
      .def(
          "_fill_bitmask_ptr",
          [](const GrammarMatcher& m, uintptr_t ptr) {
            py::gil_scoped_release release;
            m.FillNextTokenBitmask(WordsAt(ptr));
          },
          py::arg("ptr"))
      .def("is_terminated", &GrammarMatcher::IsTerminated)
      .def("is_completed", &GrammarMatcher::IsCompleted)
      .def("rollback", &GrammarMatcher::Rollback, py::arg("num_tokens") = 1)
      .def("reset", &GrammarMatcher::Reset)
      .def("find_jump_forward_bytes",
           [](const GrammarMatcher& m) { return py::bytes(m.FindJumpForwardBytes()); },
           "The exact bytes every continuation must start with.")
      .def(
          "find_jump_forward_string",
          [](const GrammarMatcher& m) {
            // The longest prefix that is whole UTF-8 characters: empty when the matcher sits
            // inside a character split across tokens.
            std::string s = m.FindJumpForwardBytes();
            size_t i = 0, good = 0;
            while (i < s.size()) {
              if (DecodeUtf8(s, &i) < 0) break;
              good = i;
            }
            return py::str(s.data(), good);
          },
          "The forced continuation as text (whole characters only).")
      .def_property_readonly("num_steps", &GrammarMatcher::NumSteps)
      .def_property_readonly("compiled_grammar", [](const GrammarMatcher& m) {
        return std::const_pointer_cast<CompiledGrammar>(m.Grammar());
      });

  // Test oracle: the mask computed the slow way, by trying accept_token on every id and rolling
  // back. Shares nothing with the mask cache or the uncertain-token walk.
  m.def(
      "_brute_force_mask",
      [](GrammarMatcher& m, uintptr_t ptr) {
        py::gil_scoped_release release;
        int32_t v = m.Grammar()->Tokenizer()->VocabSize();
        uint32_t* words = WordsAt(ptr);
        std::fill(words, words + (v + 31) / 32, 0u);
        for (int32_t id = 0; id < v; ++id) {
          if (m.AcceptToken(id)) {
            words[id >> 5] |= 1u << (id & 31);
            m.Rollback(1);
          }
        }
      },
      py::arg("matcher"), py::arg("ptr"));

  m.def(
      "_batch_fill",
      [](const std::vector<const GrammarMatcher*>& matchers, uintptr_t base, int64_t row_words,
         const std::vector<int64_t>& rows, int threads) {
        py::gil_scoped_release release;
        BatchFill(matchers, base, row_words, rows, threads);
      },
      py::arg("matchers"), py::arg("base"), py::arg("row_words"), py::arg("rows"),
      py::arg("threads"));

  m.def(
      "apply_token_bitmask_cpu",
      [](uintptr_t logits_ptr, const std::string& dtype, int64_t num_rows, int64_t row_stride,
         int64_t vocab, uintptr_t bitmask_ptr, int64_t bitmask_row_stride_words,
         int64_t bitmask_words, std::optional<std::vector<int64_t>> rows) {
        LogitsDType dt;
        int64_t elem;
        if (dtype == "float32") {
          dt = LogitsDType::kFloat32;
          elem = 4;
        } else if (dtype == "float16") {
          dt = LogitsDType::kFloat16;
          elem = 2;
        } else if (dtype == "bfloat16") {
          dt = LogitsDType::kBFloat16;
          elem = 2;
        } else {
          throw py::value_error("logits dtype must be float32, float16 or bfloat16, not " +
                                dtype);
        }
        if (num_rows < 0 || vocab < 0 || bitmask_words < 0 || row_stride < vocab ||
            bitmask_row_stride_words < bitmask_words) {
          throw py::value_error("apply_token_bitmask_cpu: inconsistent shapes or strides");
        }
        if (rows) {
          for (int64_t r : *rows) {
            if (r < 0 || r >= num_rows) {
              throw py::index_error("row " + std::to_string(r) + " out of range for " +
                                    std::to_string(num_rows) + " rows");
            }
          }
        }
        py::gil_scoped_release release;
        auto apply = [&](int64_t logits_row, int64_t mask_row) {
          ApplyTokenBitmaskRow(
              reinterpret_cast<char*>(logits_ptr) + logits_row * row_stride * elem, dt, vocab,
              WordsAt(bitmask_ptr) + mask_row * bitmask_row_stride_words, bitmask_words);
        };
        if (rows) {
          for (int64_t r : *rows) apply(r, r);
        } else {
          for (int64_t r = 0; r < num_rows; ++r) apply(r, r);
        }
      },
      py::arg("logits_ptr"), py::arg("dtype"), py::arg("num_rows"), py::arg("row_stride"),
      py::arg("vocab"), py::arg("bitmask_ptr"), py::arg("bitmask_row_stride_words"),
      py::arg("bitmask_words"), py::arg("rows") = py::none(),
      "Set logits of disallowed tokens to -inf in place (raw pointers; formgate.bitmask checks "
      "the tensors). Row r of the logits uses row r of the bitmask; rows=None means all.");
}
