# SPDX-License-Identifier: GPL-3.0-or-later
# bash completion for nmsync: options, commands, and the accounts of the config file (-c FILE,
# else $NMSYNC_CONFIG, else $XDG_CONFIG_HOME/nmsync/config), as ACCOUNT or ACCOUNT/FOLDER with
# the folders found in the account's Maildir (Maildir++ ".A.B" or nested "A/B").

_nmsync_config () {
    local i
    for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
        case ${COMP_WORDS[i]} in
            -c | --config) printf '%s\n' "${COMP_WORDS[i + 1]/#\~/$HOME}"; return ;;
        esac
    done
    printf '%s\n' "${NMSYNC_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/nmsync/config}"
}

_nmsync_accounts () {
    sed -n 's/^[[:blank:]]*\[account[[:blank:]]\{1,\}\([^]]*\)\][[:blank:]]*$/\1/p' "$1" 2>/dev/null
}

# The folders of account $2 in config $1: from its maildir = key.
_nmsync_folders () {
    local maildir
    maildir=$(awk -v acct="$2" '
        /^[[:blank:]]*\[/ { inside = ($0 ~ "^[[:blank:]]*\\[account[[:blank:]]+" acct "\\]") }
        inside && /^[[:blank:]]*maildir[[:blank:]]*=/ { sub(/^[^=]*=[[:blank:]]*/, ""); print; exit }' "$1" 2>/dev/null)
    maildir=${maildir/#\~/$HOME}
    [ -d "$maildir" ] || return
    echo INBOX
    (cd "$maildir" && find . -mindepth 2 -maxdepth 6 -type d -name cur 2>/dev/null) |
        sed -e 's|^\./||' -e 's|/cur$||' -e 's|^\.||' -e 's|^\(.*\)$|\1|' | tr . / | sort -u
}

_nmsync () {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} cfg word cmd=
    local commands="sync pull push watch apply rules"
    local options="-c --config -v --verbose -q --quiet -n --dry-run --force --no-sandbox --no-rules --all --json -h --help --version"
    case $prev in
        -c | --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    for word in "${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
        case " $commands " in *" $word "*) cmd=$word ;; esac
    done
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$options" -- "$cur"))
    elif [ -z "$cmd" ]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    else
        cfg=$(_nmsync_config)
        if [[ $cur == */* ]]; then
            local acct=${cur%%/*}
            COMPREPLY=($(compgen -P "$acct/" -W "$(_nmsync_folders "$cfg" "$acct")" -- "${cur#*/}"))
        else
            COMPREPLY=($(compgen -W "$(_nmsync_accounts "$cfg")" -- "$cur"))
        fi
    fi
}
complete -F _nmsync nmsync
