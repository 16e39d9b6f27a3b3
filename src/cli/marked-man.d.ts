// marked-man ships no types: its default export is a marked extension (options, renderer, tokenizer).
declare module 'marked-man' {
  const extension: import('marked').MarkedExtension;
  export default extension;
}
