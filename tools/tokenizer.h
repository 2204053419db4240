/* tokenizer.h - text <-> token ids for imported models (tools/tokenizer.c).
   Not part of attnres.h: the engine works on ids; this file turns text into
   ids and back for attnres-run and the tests.

   Two kinds of tokenizer file, told apart by their first byte:
     tokenizer.json (Hugging Face; starts with '{'), model BPE, of two kinds:
       byte-level, as in GPT-2, Llama 3, Qwen2/Qwen3, SmolLM2: the
       pre-tokenizer is ByteLevel with its GPT-2 regex, a Split with the
       GPT-2, Llama 3 or Qwen2 pattern followed by ByteLevel, or
       Digits(individual) then ByteLevel;
       SentencePiece-style, as in Llama 2, TinyLlama, Mistral: the normalizer
       Prepend(U+2581) + Replace(' ', U+2581), or the pre-tokenizer Metaspace
       (prepend_scheme always, first or never; split); byte_fallback (a
       character with no piece becomes its <0xNN> pieces), unk_token and
       fuse_unk; merges by rank as in Hugging Face's BPE.
       Both read model.vocab, model.merges ("a b" strings or ["a", "b"]
       pairs), added_tokens (matched in the text before anything else when
       specials are allowed; the text between them is normalised and
       pre-tokenized on its own, as Hugging Face does), BOS and EOS (below),
       and the normalizer NFC (Unicode's canonical composition, applied).
       Other normalizers, pre-tokenizers and patterns are refused with a
       message naming them; so is what Hugging Face's library refuses: a
       merge that is not two tokens of the vocab making a third, an
       added_tokens entry with a field of the wrong type (a missing boolean
       field is taken as false, which the library refuses). Added tokens
       with lstrip, rstrip or single_word are refused (not implemented).
     tokenizer.bin (llama2.c): int32 max_token_length, then per token a float
       score, an int32 length and its bytes (SentencePiece pieces with the
       meta space U+2581 written as ' '; <0xNN> byte-fallback pieces).
       Encoding is llama2.c's: a leading ' ' (dummy prefix), every UTF-8
       character looked up (else its bytes as <0xNN>), then the adjacent pair
       whose concatenation is a piece with the highest score is merged, until
       none is. BOS is id 1, EOS id 2.

   BOS and EOS of a tokenizer.json come from the post-processor's single
   template (a TemplateProcessing, alone or inside a Sequence of processors):
   the special token it puts first is BOS, one it puts after the text is EOS.
   Without such an EOS, EOS is the added token <|endoftext|> (GPT-2, Qwen2,
   SmolLM2) or <|end_of_text|> (Llama 3) if there is one. A name is looked up
   in the vocab and in added_tokens. Chat models end a turn with another
   token (<|eot_id|>, <|im_end|>): that is not EOS here.

   Encoding takes O(n log n) time in the length n of the text, however long
   a pre-token is (the merges wait in a heap). A text that needs more tokens
   than max_ids (more bytes than max_ids times the longest piece) is refused
   with ATTNRES_TOK_ERR_RANGE before any work; a byte-level BPE encoder stops
   at the first token that does not fit.

   All functions return ATTNRES_TOK_OK (0) or a nonzero code with a message in
   err[ATTNRES_TOK_ERRLEN] (which may be NULL). No function prints or exits. */
#ifndef ATTNRES_TOKENIZER_H
#define ATTNRES_TOKENIZER_H

#include <stddef.h>

#define ATTNRES_TOK_ERRLEN 256

enum {
    ATTNRES_TOK_OK = 0,
    ATTNRES_TOK_ERR_IO,       /* cannot open or read the file                  */
    ATTNRES_TOK_ERR_FORMAT,   /* malformed file, or a feature not supported    */
    ATTNRES_TOK_ERR_NOMEM,    /* allocation failed                             */
    ATTNRES_TOK_ERR_RANGE     /* output buffer too small, id out of range      */
};

typedef struct attnres_tok attnres_tok;   /* opaque */

/* Reads a tokenizer.json or tokenizer.bin (at most 1 GiB). */
int  attnres_tok_load(attnres_tok **out, const char *path, char *err);
void attnres_tok_free(attnres_tok *t);

int  attnres_tok_vocab_size(const attnres_tok *t);   /* largest id + 1 */
int  attnres_tok_bos(const attnres_tok *t);          /* BOS id, or -1 if none */
int  attnres_tok_eos(const attnres_tok *t);          /* EOS id, or -1 if none */
/* 1 if id is a control token, not text: BOS, EOS, or an added token marked
   "special": true in tokenizer.json (<|im_end|>, <|eot_id|> ...). */
int  attnres_tok_is_special(const attnres_tok *t, int id);
const char *attnres_tok_kind(const attnres_tok *t);  /* "byte-level BPE (gpt2)" ... */

/* Encodes text[len] (any bytes; invalid UTF-8 is kept byte for byte) into
   ids[max_ids]; *n_ids gets the count. BOS is never added here. With
   allow_special, an added token's text (e.g. "<|endoftext|>") becomes its
   id; without, it is encoded as ordinary text. */
int  attnres_tok_encode(const attnres_tok *t, const char *text, size_t len, int allow_special,
                        int *ids, int max_ids, int *n_ids, char *err);

/* The bytes of token id (which followed token prev, or -1 at the start of
   the text) into out[cap]; *n gets the count. The SentencePiece-style
   prefix space is dropped where the file's decoder drops it: llama2.c's
   after BOS; a tokenizer.json's at the start of the text, and after BOS if
   its normalizer prepends U+2581 to every segment. A
   token may hold part of a UTF-8 character: concatenate before printing
   (attnres_tok_utf8_ready). */
int  attnres_tok_decode(const attnres_tok *t, int prev, int id, char *out, size_t cap, size_t *n, char *err);

/* How many leading bytes of buf[len] can be printed now: all of them but an
   incomplete UTF-8 sequence at the very end, which may be completed by the
   next token's bytes. Invalid bytes count as ready (nothing will fix them). */
size_t attnres_tok_utf8_ready(const char *buf, size_t len);

#endif
