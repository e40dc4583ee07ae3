;;; nmsync.el --- Spam keys for notmuch.el, filed by nmsync  -*- lexical-binding: t; -*-

;; SPDX-License-Identifier: GPL-3.0-or-later

;; Keywords: mail
;; Package-Requires: ((emacs "27.1"))
;; URL: nmsync's emacs/ directory

;;; Commentary:

;; Two commands for notmuch.el's search, show and tree buffers:
;;
;;   J     `nmsync-spam'      tag as spam (`nmsync-spam-tags', default "+spam -inbox -unread")
;;   M-J   `nmsync-not-spam'  tag as not spam (`nmsync-not-spam-tags', default "-spam +inbox")
;;
;; They act on the thread at point or the threads in the region (search buffers), or on the
;; message at point or the messages in the region (show and tree buffers), through notmuch.el's
;; own tagging functions, so the buffer shows the new tags and `notmuch-tag-undo' works.  Then
;; they start `nmsync apply' in the background, so that nmsync's rules file the message at once
;; (a message tagged spam moves to the junk folder, one untagged from there back to INBOX,
;; with the shipped rules/spam.rules; the next `nmsync sync' moves it on the server too, and
;; runs the rules itself, so without the background apply nothing is lost).  When `nmsync apply' fails, its error output is shown in the echo area (and
;; kept in *Messages*).
;;
;; Set-up: put this file in `load-path' and add
;;
;;   (with-eval-after-load 'notmuch (require 'nmsync))
;;
;; to your init file (installed as a package, the autoloads do this).  J and M-J are not used
;; by notmuch.el 0.37 in these modes ("$" is, in show and tree buffers).  Other keys: set
;; `nmsync-spam-key' and `nmsync-not-spam-key' before loading, or call `nmsync-bind-keys'
;; after changing them.

;;; Code:

(require 'cl-lib)
(require 'subr-x)
(require 'notmuch)
(require 'notmuch-show)
(require 'notmuch-tree)

(defgroup nmsync nil
  "Spam and not-spam keys for notmuch, filed by nmsync."
  :group 'notmuch
  :prefix "nmsync-")

(defcustom nmsync-spam-tags '("+spam" "-inbox" "-unread")
  "Tag changes `nmsync-spam' applies.
The default matches the spam rule shipped with nmsync (rules/spam.rules), whose
\"match = tag:spam\" sends the message to the junk folder."
  :type '(repeat string))

(defcustom nmsync-not-spam-tags '("-spam" "+inbox")
  "Tag changes `nmsync-not-spam' applies."
  :type '(repeat string))

(defcustom nmsync-program "nmsync"
  "The nmsync program: a name looked up in variable `exec-path', or a file name."
  :type 'string)

(defcustom nmsync-apply-args '("apply")
  "Arguments for `nmsync-program' that apply the rules, the command included.
For a config of your own: (\"-c\" \"/home/me/.config/nmsync/work\" \"apply\")."
  :type '(repeat string))

(defcustom nmsync-apply-after-tagging t
  "Non-nil: `nmsync-spam' and `nmsync-not-spam' run `nmsync-apply' after tagging."
  :type 'boolean)

(defcustom nmsync-advance t
  "Non-nil: in search and tree buffers, move on after tagging the line at point.
Not when acting on a region, and not in show buffers."
  :type 'boolean)

(defcustom nmsync-spam-key "J"
  "Key for `nmsync-spam' in notmuch search, show and tree buffers.
In `kbd' syntax.  Takes effect when nmsync is loaded, or by calling
`nmsync-bind-keys'."
  :type 'string)

(defcustom nmsync-not-spam-key "M-J"
  "Key for `nmsync-not-spam' in notmuch search, show and tree buffers.
In `kbd' syntax.  Takes effect when nmsync is loaded, or by calling
`nmsync-bind-keys'."
  :type 'string)

(defvar nmsync-apply-finished-functions nil
  "Abnormal hook run when a background `nmsync apply' has ended.
Each function gets the process's exit status (a number; for a process
killed by a signal, the signal number) and its error output (a string).")

(defvar nmsync--apply-process nil
  "The running `nmsync apply' process, or nil.")

(defvar nmsync--apply-again nil
  "Non-nil when tags changed while `nmsync apply' ran: it runs again when done.")

;;; Tagging

(defun nmsync--region ()
  "Return (BEG END): the active region, or point twice."
  (if (region-active-p)
      (list (region-beginning) (region-end))
    (list (point) (point))))

(defun nmsync--tag-tree (tag-changes beg end)
  "Apply TAG-CHANGES to the tree lines from BEG's line to the last one before END."
  (save-excursion
    (goto-char beg)
    (beginning-of-line)
    (while (and (< (point) end) (not (eobp)))
      (when (notmuch-tree-get-message-id)
        (notmuch-tree-tag tag-changes))
      (forward-line 1))))

(defun nmsync--tag-show (tag-changes beg end)
  "Apply TAG-CHANGES to the shown messages from BEG's to the last one before END."
  (save-excursion
    (goto-char beg)
    (cl-loop do (notmuch-show-tag tag-changes)
             while (and (notmuch-show-goto-message-next) (< (point) end)))))

(defun nmsync--tag (tag-changes beg end)
  "Apply TAG-CHANGES in this notmuch buffer, to the region BEG..END or at point.
Search buffers: the thread(s); show and tree buffers: the message(s).  Then run
`nmsync-apply' when `nmsync-apply-after-tagging' is set."
  (let ((at-point (= beg end)))
    (cond
     ((derived-mode-p 'notmuch-search-mode)
      (unless (notmuch-search-find-stable-query-region beg end)
        (user-error "No thread here"))
      (notmuch-search-tag tag-changes beg end)
      (when (and at-point nmsync-advance)
        (notmuch-search-next-thread)))
     ((derived-mode-p 'notmuch-tree-mode)
      (if at-point
          (progn
            (unless (notmuch-tree-get-message-id)
              (user-error "No message here"))
            (notmuch-tree-tag tag-changes)
            (when nmsync-advance
              (notmuch-tree-next-message)))
        (nmsync--tag-tree tag-changes beg end)))
     ((derived-mode-p 'notmuch-show-mode)
      (if at-point
          (notmuch-show-tag tag-changes)
        (nmsync--tag-show tag-changes beg end)))
     (t (user-error "Not a notmuch search, show or tree buffer"))))
  (when nmsync-apply-after-tagging
    (nmsync-apply)))

;;;###autoload
(defun nmsync-spam (&optional beg end)
  "Tag as spam, then let `nmsync apply' file it in the junk folder.
Applies `nmsync-spam-tags' to the thread (search buffer) or message (show and
tree buffers) at point, or to those in the region when it is active; BEG and
END give the region when called from Lisp.  Then runs `nmsync-apply' in the
background."
  (interactive (nmsync--region))
  (nmsync--tag nmsync-spam-tags (or beg (point)) (or end beg (point))))

;;;###autoload
(defun nmsync-not-spam (&optional beg end)
  "Tag as not spam, then let `nmsync apply' move it back to INBOX.
Applies `nmsync-not-spam-tags' to the thread (search buffer) or message (show
and tree buffers) at point, or to those in the region when it is active; BEG
and END give the region when called from Lisp.  Then runs `nmsync-apply' in
the background."
  (interactive (nmsync--region))
  (nmsync--tag nmsync-not-spam-tags (or beg (point)) (or end beg (point))))

;;; Running nmsync apply

(defun nmsync--apply-finished (proc errproc errbuf)
  "Report the end of PROC, whose stderr went to ERRPROC writing into ERRBUF."
  ;; The stderr pipe may still hold the last bytes when PROC's sentinel runs: drain it.
  (let ((deadline (+ (float-time) 2.0)))
    (while (and (process-live-p errproc) (< (float-time) deadline))
      (accept-process-output errproc 0.05)))
  (let ((status (process-exit-status proc))
        (signaled (eq (process-status proc) 'signal))
        (err (if (buffer-live-p errbuf)
                 (string-trim (with-current-buffer errbuf (buffer-string)))
               "")))
    (delete-process errproc)
    (when (buffer-live-p errbuf)
      (kill-buffer errbuf))
    (setq nmsync--apply-process nil)
    (unless (and (not signaled) (= status 0))
      (message "nmsync apply %s: %s"
               (if signaled
                   (format "killed by signal %d" status)
                 (format "failed (exit %d)" status))
               (if (string-empty-p err) "no error output" err)))
    (run-hook-with-args 'nmsync-apply-finished-functions status err)
    (when nmsync--apply-again
      (nmsync-apply))))

;;;###autoload
(defun nmsync-apply ()
  "Run `nmsync-program' with `nmsync-apply-args' in the background.
This applies nmsync's rules to what changed, moving messages between folders
locally (no network).  When it fails, its error output is shown in the echo
area.  A call while it runs makes it run once more when it ends."
  (interactive)
  (if (process-live-p nmsync--apply-process)
      (setq nmsync--apply-again t)
    (setq nmsync--apply-again nil)
    (let* ((default-directory (expand-file-name "~/"))
           (errbuf (generate-new-buffer " *nmsync-apply-stderr*"))
           (errproc (make-pipe-process :name "nmsync-apply-stderr" :buffer errbuf
                                       :noquery t :sentinel #'ignore)))
      (condition-case err
          (setq nmsync--apply-process
                (make-process
                 :name "nmsync-apply"
                 :command (cons nmsync-program nmsync-apply-args)
                 :buffer nil
                 :stderr errproc
                 :connection-type 'pipe
                 :noquery t
                 :sentinel (lambda (proc _event)
                             (unless (process-live-p proc)
                               (nmsync--apply-finished proc errproc errbuf)))))
        (error
         (delete-process errproc)
         (kill-buffer errbuf)
         (setq nmsync--apply-process nil)
         (message "nmsync apply: cannot run %s: %s" nmsync-program
                  (error-message-string err))
         nil)))))

;;; Keys

;;;###autoload
(defun nmsync-bind-keys ()
  "Bind `nmsync-spam-key' and `nmsync-not-spam-key' in notmuch's maps.
The maps of search, show and tree buffers."
  (dolist (map (list notmuch-search-mode-map notmuch-show-mode-map notmuch-tree-mode-map))
    (define-key map (kbd nmsync-spam-key) #'nmsync-spam)
    (define-key map (kbd nmsync-not-spam-key) #'nmsync-not-spam)))

(nmsync-bind-keys)

;; In the autoloads only (the cookie's own line): load nmsync, binding its keys, with notmuch.
;;;###autoload (with-eval-after-load 'notmuch (require 'nmsync))

(provide 'nmsync)

;;; nmsync.el ends here
