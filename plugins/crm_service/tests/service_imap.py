"""A local IMAP4rev1 server for the fetch tests: Twisted's IMAP4Server (pure Python)
over an in-memory mailbox, its reactor in a daemon thread (started once per process)."""

import io
import threading

from zope.interface import implementer
from twisted.cred import checkers, portal
from twisted.internet import protocol, reactor
from twisted.mail import imap4


@implementer(imap4.IMessage, imap4.IMessageFile)
class Message:
    def __init__(self, raw, uid):
        self.raw, self.uid, self.flags = raw, uid, set()

    def getUID(self):
        return self.uid

    def getFlags(self):
        return list(self.flags)

    def getInternalDate(self):
        return "Mon, 30 Nov 2026 09:00:00 +0000"

    def open(self):
        return io.BytesIO(self.raw)

    def getHeaders(self, negate, *names):
        import email

        msg = email.message_from_bytes(self.raw)
        wanted = {n.lower() for n in names}
        return {k.lower(): v for k, v in msg.items() if (k.lower() in wanted) != negate or not names}

    def getBodyFile(self):
        return io.BytesIO(self.raw.split(b"\r\n\r\n", 1)[-1])

    def getSize(self):
        return len(self.raw)

    def isMultipart(self):
        return False

    def getSubPart(self, part):
        raise IndexError(part)


@implementer(imap4.IMailbox)
class Mailbox:
    def __init__(self):
        self.messages, self.listeners, self.next_uid = [], [], 1

    def add(self, raw):
        self.messages.append(Message(raw, self.next_uid))
        self.next_uid += 1

    def getHierarchicalDelimiter(self):
        return "/"

    def getFlags(self):
        return [r"\Seen"]

    def getMessageCount(self):
        return len(self.messages)

    def getRecentCount(self):
        return 0

    def getUnseenCount(self):
        return sum(1 for m in self.messages if r"\Seen" not in m.flags)

    def isWriteable(self):
        return True

    def getUIDValidity(self):
        return 42

    def getUIDNext(self):
        return self.next_uid

    def getUID(self, message):
        return self.messages[message - 1].uid

    def addListener(self, listener):
        self.listeners.append(listener)

    def removeListener(self, listener):
        self.listeners.remove(listener)

    def requestStatus(self, names):
        return imap4.statusRequestHelper(self, names)

    def destroy(self):
        pass

    def expunge(self):
        return []

    def _matching(self, messages, uid):
        if uid:
            messages.last = self.next_uid
            return [(m.uid, m) for m in self.messages if m.uid in messages]
        messages.last = len(self.messages)
        return [(i, m) for i, m in enumerate(self.messages, start=1) if i in messages]

    def fetch(self, messages, uid):
        return self._matching(messages, uid)

    def store(self, messages, flags, mode, uid):
        result = {}
        for key, m in self._matching(messages, uid):
            if mode == 0:
                m.flags = set(flags)
            elif mode == 1:
                m.flags |= set(flags)
            else:
                m.flags -= set(flags)
            result[key] = list(m.flags)
        return result


class Account(imap4.MemoryAccountWithoutNamespaces):
    def _emptyMailbox(self, name, id):
        return Mailbox()


@implementer(portal.IRealm)
class Realm:
    def __init__(self, account):
        self.account = account

    def requestAvatar(self, avatar_id, mind, *interfaces):
        return imap4.IAccount, self.account, lambda: None


class Server:
    """``Server(user, password)``: ``.port``, ``.inbox`` (a Mailbox), ``.stop()``."""

    _thread = None

    def __init__(self, user, password):
        self.account = Account(user)
        self.account.addMailbox("INBOX")
        self.inbox = self.account.mailboxes["INBOX"]
        checker = checkers.InMemoryUsernamePasswordDatabaseDontUse(**{user: password.encode()})
        the_portal = portal.Portal(Realm(self.account), [checker])

        class Factory(protocol.Factory):
            def buildProtocol(self, addr):
                p = imap4.IMAP4Server()
                p.portal = the_portal
                p.factory = self
                return p

        if not reactor.running and Server._thread is None:
            Server._thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False}, daemon=True)
            Server._thread.start()
        ready = threading.Event()
        result = {}

        def listen():
            result["port"] = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
            ready.set()

        reactor.callFromThread(listen)
        ready.wait(10)
        self._listening = result["port"]
        self.port = self._listening.getHost().port

    def stop(self):
        reactor.callFromThread(self._listening.stopListening)
