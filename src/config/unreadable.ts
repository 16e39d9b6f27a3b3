// Why a file cannot be read, for people: the loader and the daemon say it the same way.

/** Why a file cannot be read, in words, with the errno: "no such file (ENOENT)". */
export function unreadable(e: NodeJS.ErrnoException): string {
  const words: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'it is a directory',
    ELOOP: 'too many symlinks',
    ENOTDIR: 'a component of the path is not a directory',
  };
  const code = e.code ?? 'EIO';
  return words[code]
    ? `${words[code]} (${code})`
    : `${code}${e.message ? ` (${e.message.replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '')})` : ''}`;
}
