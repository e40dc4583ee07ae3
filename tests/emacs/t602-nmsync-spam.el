;;; t602-nmsync-spam.el --- ERT tests for emacs/nmsync.el  -*- lexical-binding: t; -*-

;; SPDX-License-Identifier: GPL-3.0-or-later

;;; Commentary:

;; Run by tests/integration/t602-emacs-spam.sh, one test per Emacs, against the scratch notmuch
;; database NOTMUCH_CONFIG names.  Environment:
;;   T602_OUT     directory for what the shell checks afterwards: apply-status, apply-stderr
;;                (from `nmsync-apply-finished-functions'), messages (*Messages*).
;;   T602_PROGRAM, T602_ARGS   `nmsync-program' and `nmsync-apply-args' (ARGS split at blanks).
;; The shell checks the database and the Maildir afterwards; these tests check the buffers,
;; the keys and that the background process ends.

;;; Code:

(require 'ert)
(require 'notmuch)
(require 'nmsync)

(defvar t602-out (getenv "T602_OUT"))

(setq nmsync-program (getenv "T602_PROGRAM")
      nmsync-apply-args (split-string (or (getenv "T602_ARGS") "apply")))

(defun t602-write (name text)
  "Write TEXT to the file NAME in T602_OUT."
  (with-temp-file (expand-file-name name t602-out)
    (insert text)))

(add-hook 'nmsync-apply-finished-functions
          (lambda (status err)
            (t602-write "apply-status" (format "%d\n" status))
            (t602-write "apply-stderr" err)))

(defun t602-save-messages ()
  "Save *Messages* for the shell."
  (t602-write "messages" (with-current-buffer (messages-buffer) (buffer-string))))

(defun t602-wait-for-buffer-process ()
  "Wait (bounded) until the current buffer's notmuch process is done."
  (let ((deadline (+ (float-time) 30)))
    (while (and (get-buffer-process (current-buffer)) (< (float-time) deadline))
      (accept-process-output nil 0.1))
    (should-not (get-buffer-process (current-buffer)))))

(defun t602-wait-for-apply ()
  "Wait (bounded) until the background `nmsync apply' has ended and been reported."
  (should nmsync--apply-process)
  (let ((deadline (+ (float-time) 60)))
    (while (and nmsync--apply-process (< (float-time) deadline))
      (accept-process-output nil 0.1)))
  (t602-save-messages)
  (should-not nmsync--apply-process)
  (should (file-exists-p (expand-file-name "apply-status" t602-out))))

(ert-deftest t602-spam-search ()
  "J in a search buffer tags the thread at point and runs nmsync apply."
  (notmuch-search "id:spam1@nmsync.test")
  (t602-wait-for-buffer-process)
  (goto-char (point-min))
  (should (notmuch-search-find-thread-id))
  (should (eq (key-binding (kbd "J")) #'nmsync-spam))
  (call-interactively (key-binding (kbd "J")))
  (goto-char (point-min))
  (should (member "spam" (notmuch-search-get-tags)))
  (should-not (member "inbox" (notmuch-search-get-tags)))
  (t602-wait-for-apply))

(ert-deftest t602-spam-search-region ()
  "J with an active region in a search buffer tags every thread in it."
  (transient-mark-mode 1)
  (notmuch-search "id:region1@nmsync.test or id:region2@nmsync.test")
  (t602-wait-for-buffer-process)
  (goto-char (point-min))
  (push-mark (point) t t)
  (goto-char (point-max))
  (should (region-active-p))
  (call-interactively (key-binding (kbd "J")))
  (goto-char (point-min))
  (should (member "spam" (notmuch-search-get-tags)))
  (notmuch-search-next-thread)
  (should (member "spam" (notmuch-search-get-tags)))
  (t602-wait-for-apply))

(ert-deftest t602-spam-show ()
  "J in a show buffer tags the message and passes `nmsync-apply-args'."
  (notmuch-show "id:spam2@nmsync.test")
  (should (equal (notmuch-show-get-message-id t) "spam2@nmsync.test"))
  (should (eq (key-binding (kbd "J")) #'nmsync-spam))
  (call-interactively (key-binding (kbd "J")))
  (should (member "spam" (notmuch-show-get-tags)))
  (should-not (member "inbox" (notmuch-show-get-tags)))
  (t602-wait-for-apply))

(ert-deftest t602-not-spam-tree-failing ()
  "M-J in a tree buffer tags the message; a failing nmsync's stderr reaches the echo area."
  (notmuch-tree "id:ham1@nmsync.test")
  (t602-wait-for-buffer-process)
  (goto-char (point-min))
  (should (equal (notmuch-tree-get-message-id t) "ham1@nmsync.test"))
  (should (eq (key-binding (kbd "M-J")) #'nmsync-not-spam))
  (call-interactively (key-binding (kbd "M-J")))
  (goto-char (point-min))
  (should-not (member "spam" (notmuch-tree-get-tags)))
  (should (member "inbox" (notmuch-tree-get-tags)))
  (t602-wait-for-apply)
  (should (string-match-p "nmsync apply failed (exit 2): boom"
                          (with-current-buffer (messages-buffer) (buffer-string)))))

;;; t602-nmsync-spam.el ends here
